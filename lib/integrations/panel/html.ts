// The self-contained panel page: one HTML document with its CSS and JS
// inline, no external request of any kind, so it works offline, from
// `kernel-taint serve`, from a file and in an Electron renderer. Browser-safe
// (pure string building).
import { mountTaintPanel } from './client.js';
import type { PanelSnapshot } from './types.js';

/**
 * The panel's stylesheet (light and dark, follows `prefers-color-scheme`).
 *
 * @example
 * const style = document.createElement('style');
 * style.textContent = TAINT_PANEL_CSS;
 * document.head.append(style);
 */
export const TAINT_PANEL_CSS = `
.kt-panel{--bg:#f7f7f8;--fg:#1d1d1f;--muted:#6b6b76;--card:#fff;--line:#e3e3e8;--pass:#1a7f37;--warn:#9a6700;--fail:#cf222e;--unknown:#6e7781;
font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;color:var(--fg);background:var(--bg);padding:20px;max-width:980px;margin:0 auto;box-sizing:border-box}
@media (prefers-color-scheme:dark){.kt-panel{--bg:#0d1117;--fg:#e6edf3;--muted:#8b949e;--card:#161b22;--line:#30363d;--pass:#3fb950;--warn:#d29922;--fail:#f85149;--unknown:#8b949e}}
.kt-panel *{box-sizing:border-box}
.kt-head{background:var(--card);border:1px solid var(--line);border-left:6px solid var(--unknown);border-radius:8px;padding:14px 18px;margin-bottom:16px}
.kt-head.kt-pass{border-left-color:var(--pass)}.kt-head.kt-warn{border-left-color:var(--warn)}.kt-head.kt-fail{border-left-color:var(--fail)}
.kt-title-row{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.kt-title{font-size:20px;margin:0;font-weight:600}
.kt-summary{font-size:16px;margin:8px 0 4px;font-family:ui-monospace,"DejaVu Sans Mono",monospace;word-break:break-word}
.kt-meta{margin:0;color:var(--muted);font-size:12px}
.kt-badge{display:inline-block;border-radius:999px;padding:1px 10px;font-size:12px;font-weight:600;text-transform:uppercase;letter-spacing:.04em;color:#fff;background:var(--unknown)}
.kt-badge.kt-pass{background:var(--pass)}.kt-badge.kt-warn{background:var(--warn)}.kt-badge.kt-fail{background:var(--fail)}
.kt-badge.kt-unknown{background:var(--unknown)}
.kt-error{margin:6px 0 0;color:var(--fail);font-weight:600}
.kt-live{margin-left:auto;font-size:12px;color:var(--muted)}
.kt-live::before{content:"";display:inline-block;width:8px;height:8px;border-radius:50%;background:var(--unknown);margin-right:6px;vertical-align:middle}
.kt-live.kt-on::before{background:var(--pass)}
.kt-section{margin-bottom:16px}
.kt-section h2{font-size:13px;text-transform:uppercase;letter-spacing:.06em;color:var(--muted);margin:0 0 8px}
.kt-flags{display:grid;gap:8px}
.kt-flag{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--unknown);border-radius:6px;padding:10px 14px}
.kt-flag.kt-pass{border-left-color:var(--pass)}.kt-flag.kt-warn{border-left-color:var(--warn)}.kt-flag.kt-fail{border-left-color:var(--fail)}
.kt-flag-top{display:flex;align-items:center;gap:10px;flex-wrap:wrap}
.kt-letter{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-weight:700;font-size:15px;min-width:1.4em;text-align:center;border:1px solid var(--line);border-radius:4px;padding:0 4px}
.kt-name{font-weight:600}
.kt-cat{font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:4px;padding:0 6px}
.kt-bit{font-size:12px;color:var(--muted);margin-left:auto}
.kt-desc{margin:6px 0 2px}
.kt-evidence{margin:2px 0;color:var(--muted)}.kt-line{display:block;white-space:pre-wrap;word-break:break-all;font-size:.85em}
.kt-why{margin:0;color:var(--muted);font-size:12px}
.kt-modules{list-style:none;padding:0;margin:0;display:flex;gap:8px;flex-wrap:wrap}
.kt-module{background:var(--card);border:1px solid var(--line);border-radius:6px;padding:4px 10px;display:flex;gap:8px;align-items:center}
.kt-history{list-style:none;padding:0;margin:0;background:var(--card);border:1px solid var(--line);border-radius:6px}
.kt-history li{padding:6px 12px;border-top:1px solid var(--line);display:flex;gap:12px;flex-wrap:wrap}
.kt-history li:first-child{border-top:0}
.kt-time{font-family:ui-monospace,"DejaVu Sans Mono",monospace;color:var(--muted);font-size:12px}
.kt-what{font-weight:600}.kt-via,.kt-from{color:var(--muted)}
.kt-empty{color:var(--muted);margin:0}
`;

/** The page's stylesheet: the panel's plus the page background. */
export const TAINT_PANEL_PAGE_CSS = `html,body{margin:0;background:#f7f7f8}@media (prefers-color-scheme:dark){html,body{background:#0d1117}}${TAINT_PANEL_CSS}`;

/**
 * The page's inline script: mounts the panel on `#kt-root` with the
 * configuration in `#kt-config` (a JSON data block, not executed). Static, so
 * its CSP hash never changes.
 */
export const TAINT_PANEL_SCRIPT = `(function () {
  'use strict';
  var mountTaintPanel = ${mountTaintPanel.toString()};
  var cfg = JSON.parse(document.getElementById('kt-config').textContent || '{}');
  window.kernelTaintPanel = mountTaintPanel(document.getElementById('kt-root'), cfg);
})();`;

/** Options of `renderTaintPanelHtml`. */
export interface PanelPageOptions {
  /** Page and heading title (default `Kernel taint`). */
  title?: string;
  /** SSE URL the page subscribes to (default `/events`; `null` for a static page). */
  eventsUrl?: string | null;
  /** A snapshot rendered at once, before any event (the page then works without a server). */
  initial?: PanelSnapshot | null;
  /** How many history entries to keep (default 100). */
  historySize?: number;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// JSON inside a <script> data block: `<` is escaped so no `</script>` or
// `<!--` can appear, and U+2028/9 for old parsers.
function scriptJson(v: unknown): string {
  return JSON.stringify(v)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * A complete, self-contained HTML page for the panel: inline CSS and JS, no
 * external requests. Serve it with a CSP that allows exactly its script and
 * style (`kernel-taint serve` does, by hash), or load it in an Electron
 * window.
 *
 * @example
 * // Electron main process: a static page from a snapshot
 * win.loadURL(`data:text/html;charset=utf-8,${encodeURIComponent(renderTaintPanelHtml({ initial, eventsUrl: null }))}`);
 */
export function renderTaintPanelHtml(opts: PanelPageOptions = {}): string {
  const title = opts.title ?? 'Kernel taint';
  const cfg = {
    title,
    eventsUrl: opts.eventsUrl === undefined ? '/events' : opts.eventsUrl,
    initial: opts.initial ?? null,
    historySize: opts.historySize ?? 100,
  };
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${escapeHtml(title)}</title>
<link rel="icon" href="data:,">
<style>${TAINT_PANEL_PAGE_CSS}</style>
</head>
<body>
<main id="kt-root"><noscript>This panel needs JavaScript.</noscript></main>
<script type="application/json" id="kt-config">${scriptJson(cfg)}</script>
<script>${TAINT_PANEL_SCRIPT}</script>
</body>
</html>
`;
}
