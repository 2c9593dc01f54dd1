/// <reference lib="dom" />
// The panel's browser code. `mountTaintPanel` is also inlined into the served
// page through Function.prototype.toString, so it must stay self-contained:
// no imports, no references to anything outside its own body. It builds the
// DOM with createElement/textContent only (never innerHTML), so nothing from
// the data can become markup, and needs no inline styles (strict CSP).
import type { PanelChange, PanelFeedHandlers, PanelSnapshot } from './types.js';

/** Options of `mountTaintPanel`. */
export interface PanelOptions {
  /** Server-Sent Events URL (`/events` of `kernel-taint serve`). */
  eventsUrl?: string;
  /** A snapshot to render before the first event arrives. */
  initial?: PanelSnapshot | null;
  /**
   * A feed of your own instead of SSE (Electron IPC): call the handlers, and
   * return a function that unsubscribes (`destroy()` calls it; anything else
   * returned, such as the `IpcRenderer` that `ipcRenderer.on` returns, is
   * ignored). The panel shows `live` once subscribed, until the feed calls
   * `handlers.status(false)`.
   */
  subscribe?: (handlers: PanelFeedHandlers) => unknown;
  /** How many history entries to keep (default 100). */
  historySize?: number;
  /** Heading text (default `Kernel taint`). */
  title?: string;
}

/** What `mountTaintPanel` returns. */
export interface PanelHandle {
  /** Renders a snapshot (a `history` in it replaces the panel's). */
  update(snapshot: PanelSnapshot): void;
  /** Adds a change at the top of the history. */
  push(change: PanelChange): void;
  /** Stops the feed and empties the root element. */
  destroy(): void;
}

/**
 * Renders the taint panel into `root` and keeps it live: from an SSE URL
 * (`eventsUrl`) or from a feed you provide (`subscribe`, e.g. over Electron
 * IPC). Styles come from `TAINT_PANEL_CSS` (add it once to the page).
 *
 * @example
 * import { mountTaintPanel, TAINT_PANEL_CSS } from 'kernel-taint/panel';
 * const panel = mountTaintPanel(document.getElementById('taint'), {
 *   initial: await window.kernelTaint.snapshot(),
 *   subscribe: (h) => window.kernelTaint.onUpdate((change, snapshot) => {
 *     if (change) h.change(change);
 *     h.snapshot(snapshot);
 *   }), // returns the preload's unsubscribe
 * });
 */
export function mountTaintPanel(root: HTMLElement, options: PanelOptions = {}): PanelHandle {
  const doc = root.ownerDocument;
  const limit = options.historySize ?? 100;
  let history: PanelChange[] = [];

  function el<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    cls?: string,
    text?: string | null,
    kt?: string,
  ): HTMLElementTagNameMap[K] {
    const e = doc.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = text;
    if (kt) e.setAttribute('data-kt', kt);
    return e;
  }

  function fmtTime(iso: string): string {
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    const p = (n: number) => String(n).padStart(2, '0');
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  }

  root.textContent = '';
  root.classList.add('kt-panel');
  const head = el('header', 'kt-head');
  const title = el('h1', 'kt-title', options.title ?? 'Kernel taint');
  const badge = el('span', 'kt-badge', 'loading', 'status');
  const liveDot = el('span', 'kt-live', 'offline', 'live');
  const summary = el('p', 'kt-summary', 'Waiting for data…', 'summary');
  const meta = el('p', 'kt-meta', '', 'meta');
  const problem = el('p', 'kt-error', '', 'error');
  problem.hidden = true;
  const titleRow = el('div', 'kt-title-row');
  titleRow.append(title, badge, liveDot);
  head.append(titleRow, summary, problem, meta);

  const flagsSec = el('section', 'kt-section');
  flagsSec.append(el('h2', undefined, 'Flags'));
  const flagsBody = el('div', 'kt-flags', undefined, 'flags');
  flagsSec.append(flagsBody);

  const modSec = el('section', 'kt-section');
  modSec.append(el('h2', undefined, 'Modules carrying taint'));
  const modBody = el('ul', 'kt-modules', undefined, 'modules');
  modSec.append(modBody);

  const histSec = el('section', 'kt-section');
  histSec.append(el('h2', undefined, 'History'));
  const histBody = el('ol', 'kt-history', undefined, 'history');
  histSec.append(histBody);

  root.append(head, flagsSec, modSec, histSec);

  // What is shown must not look fresher than it is: the last snapshot, when
  // it came (monotonic), and whether the feed is connected.
  let lastSnap: PanelSnapshot | null = null;
  let lastAt = 0;
  // Set when the feed said it is disconnected (not before the first connect).
  let lost = false;
  let ticker: ReturnType<typeof setInterval> | null = null;

  function ago(ms: number): string {
    const sec = Math.max(0, Math.round(ms / 1000));
    if (sec < 120) return `${sec} s`;
    if (sec < 7200) return `${Math.round(sec / 60)} min`;
    return `${Math.round(sec / 3600)} h`;
  }

  function renderProblem(): void {
    const s = lastSnap;
    const lines: string[] = [];
    if (s?.error) {
      const staleMs = (s.staleMs ?? 0) + performance.now() - lastAt;
      lines.push(`Read error: ${s.error}${s.staleSince ? ` · stale for ${ago(staleMs)}` : ''}`);
    }
    if (lost && s) lines.push(`Connection lost: last data ${ago(performance.now() - lastAt)} old`);
    problem.textContent = lines.join(' — ');
    problem.hidden = lines.length === 0;
    const stale = lost || Boolean(s?.error);
    if (stale && !ticker) ticker = setInterval(renderProblem, 1000);
    if (!stale && ticker) {
      clearInterval(ticker);
      ticker = null;
    }
  }

  function setLive(on: boolean): void {
    lost = !on;
    liveDot.textContent = on ? 'live' : 'offline';
    liveDot.classList.toggle('kt-on', on);
    if (!on && lastSnap) {
      // A verdict from a server that no longer answers is not a verdict.
      root.setAttribute('data-status', 'unknown');
      badge.textContent = 'unknown';
      badge.className = 'kt-badge kt-unknown';
      head.className = 'kt-head kt-unknown';
    } else if (on && lastSnap) {
      applyStatus(lastSnap);
    }
    renderProblem();
  }

  function applyStatus(s: PanelSnapshot): void {
    root.setAttribute('data-status', s.status);
    badge.textContent = s.status === 'unknown' ? 'unknown' : s.status;
    badge.className = `kt-badge kt-${s.status}`;
    head.className = `kt-head kt-${s.status}`;
  }

  function renderHistory(): void {
    histBody.textContent = '';
    if (history.length === 0) {
      histBody.append(el('li', 'kt-empty', 'No changes seen yet.'));
      return;
    }
    for (const c of history) {
      const li = el('li', 'kt-change', undefined, 'change');
      li.setAttribute('data-seq', String(c.seq));
      li.append(el('time', 'kt-time', fmtTime(c.time)));
      const what =
        c.added.length > 0
          ? `+${c.added.map((f) => f.letter).join('')} ${c.added.map((f) => f.name).join(', ')}`
          : `value ${c.value}${c.letters ? ` (${c.letters})` : ''}: bits cleared`;
      li.append(el('span', 'kt-what', what));
      li.append(el('span', 'kt-via', `via ${c.trigger}`));
      if (c.modules.length > 0) li.append(el('span', 'kt-from', `from ${c.modules.join(', ')}`));
      histBody.append(li);
    }
  }

  function update(s: PanelSnapshot): void {
    lastSnap = s;
    lastAt = performance.now();
    root.setAttribute('data-value', s.value === null ? '' : String(s.value));
    root.setAttribute('data-error', s.error ? 'true' : 'false');
    if (lost) setLive(false);
    else applyStatus(s);
    summary.textContent = s.summary;
    const bits: string[] = [];
    if (s.value !== null) bits.push(`value ${s.value}`);
    if (s.profile) bits.push(`profile ${s.profile}`);
    if (s.bootId) bits.push(`boot ${s.bootId.slice(0, 8)}`);
    bits.push(`updated ${fmtTime(s.time)}`);
    meta.textContent = bits.join(' · ');

    flagsBody.textContent = '';
    if (s.flags.length === 0) {
      flagsBody.append(el('p', 'kt-empty', s.error ? 'Unknown: the taint could not be read.' : 'No flag is set.'));
    }
    for (const f of s.flags) {
      const card = el('article', `kt-flag kt-${f.status}`, undefined, 'flag');
      card.setAttribute('data-letter', f.letter);
      const top = el('div', 'kt-flag-top');
      top.append(el('span', 'kt-letter', f.letter));
      top.append(el('span', 'kt-name', f.name));
      top.append(el('span', `kt-cat kt-cat-${f.category}`, f.category));
      top.append(el('span', `kt-badge kt-${f.status}`, f.status));
      if (f.bit !== null) top.append(el('span', 'kt-bit', `bit ${f.bit}`));
      card.append(top);
      card.append(el('p', 'kt-desc', f.description));
      card.append(el('p', 'kt-why', f.message));
      const ev = f.evidence;
      if (ev) {
        const parts = [ev.sinceText, `cause: ${ev.cause ?? 'unknown'}`];
        if (ev.actor) parts.push(`actor: ${ev.actor}`);
        card.append(el('p', 'kt-evidence', parts.join(' · '), 'evidence'));
        if (ev.line) card.append(el('code', 'kt-line', ev.line));
      }
      flagsBody.append(card);
    }

    modBody.textContent = '';
    if (s.modules.length === 0) modBody.append(el('li', 'kt-empty', 'None.'));
    for (const m of s.modules) {
      const li = el('li', 'kt-module', undefined, 'module');
      li.append(el('span', 'kt-name', m.name));
      li.append(el('span', 'kt-letter', m.letters));
      modBody.append(li);
    }

    if (s.history) {
      history = s.history.slice(0, limit);
      renderHistory();
    }
    renderProblem();
  }

  function push(c: PanelChange): void {
    if (history.some((h) => h.seq === c.seq && h.time === c.time)) return;
    history.unshift(c);
    if (history.length > limit) history.length = limit;
    renderHistory();
  }

  renderHistory();
  if (options.initial) update(options.initial);

  let stop: () => void = () => {};
  // Whether the feed reported its connection state itself (during subscribe).
  let reported = false;
  const handlers: PanelFeedHandlers = {
    snapshot: update,
    change: push,
    status: (live) => {
      reported = true;
      setLive(live);
    },
  };
  if (options.subscribe) {
    const unsubscribe = options.subscribe(handlers);
    if (typeof unsubscribe === 'function') stop = () => void unsubscribe();
    // A feed of your own (IPC) is connected once subscribed: no 'open' event will say so.
    if (!reported) setLive(true);
  } else if (options.eventsUrl && typeof EventSource === 'function') {
    const es = new EventSource(options.eventsUrl);
    es.addEventListener('open', () => setLive(true));
    es.addEventListener('error', () => setLive(false));
    es.addEventListener('snapshot', (ev) => {
      setLive(true);
      update(JSON.parse((ev as MessageEvent<string>).data) as PanelSnapshot);
    });
    es.addEventListener('change', (ev) => push(JSON.parse((ev as MessageEvent<string>).data) as PanelChange));
    stop = () => es.close();
  }
  return {
    update,
    push,
    destroy() {
      stop();
      if (ticker) clearInterval(ticker);
      ticker = null;
      root.textContent = '';
    },
  };
}
