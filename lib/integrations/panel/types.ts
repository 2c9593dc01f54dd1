// The data the panel renders: plain JSON, the same over SSE, Electron IPC or
// inlined in the page. Browser-safe (types only).

/** A status, or `unknown` when the taint could not be read. */
export type PanelStatus = 'pass' | 'warn' | 'fail' | 'unknown';

/** A set flag with its explanation and what the policy made of it. */
export interface PanelFlag {
  bit: number | null;
  letter: string;
  name: string;
  category: string;
  /** Plain-English meaning and what to do. */
  description: string;
  status: 'pass' | 'warn' | 'fail';
  /** Why the policy gave this status. */
  message: string;
  /** Modules that carry it. */
  modules: string[];
  /** Since when, why and by whom, when the source's changes carried evidence (`TaintChange.evidence`). */
  evidence?: PanelEvidence | null;
}

/** A flag's evidence, as text (see `explainTaint()`). */
export interface PanelEvidence {
  /** ISO 8601 when known. */
  since: string | null;
  /** Seconds after boot, when known. */
  sinceBoot: number | null;
  /** `since 2026-12-02 06:01:02 (12.0 s after boot)` (server local time). */
  sinceText: string;
  /** `module kt_prop [POE]: out of tree, unsigned`, `WARN at mm/slub.c:123`, or null when unknown. */
  cause: string | null;
  /** The kernel log line. */
  line: string | null;
  /** `insmod, pid 117 (the process that caused it; from the watchpoint)`, or null. */
  actor: string | null;
  source: string;
}

/** A loaded module that taints the kernel. */
export interface PanelModule {
  name: string;
  letters: string;
}

/** One entry of the live history. */
export interface PanelChange {
  seq: number;
  /** ISO 8601. */
  time: string;
  bootId: string | null;
  value: number;
  letters: string;
  /** Bits that went from clear to set. */
  added: Array<{ letter: string; name: string; category: string }>;
  /** What woke the read (`initial`, `inotify`, `uevent`, `kmsg`, `counter`, `poll`). */
  trigger: string;
  /** Modules that carry the added bits. */
  modules: string[];
}

/** Everything the panel shows at one moment. */
export interface PanelSnapshot {
  time: string;
  value: number | null;
  tainted: boolean;
  letters: string;
  profile: string | null;
  status: PanelStatus;
  /** `Not tainted`, `Tainted: [O]=OOT_MODULE`, or the read error. */
  summary: string;
  flags: PanelFlag[];
  modules: PanelModule[];
  bootId: string | null;
  /** Why the taint could not be read (the values shown are then stale or absent), else `null`. */
  error: string | null;
  /** When reads started failing (ISO 8601), `null` while they work. */
  staleSince?: string | null;
  /** How long reads have been failing (ms, monotonic) when the snapshot was made; 0 while they work. */
  staleMs?: number;
  /** Newest first. Omitted in updates that only change the state (the panel keeps its own). */
  history?: PanelChange[];
}

/** Handlers a feed calls; see `PanelOptions.subscribe`. */
export interface PanelFeedHandlers {
  snapshot(snapshot: PanelSnapshot): void;
  change(change: PanelChange): void;
  /** Connection state for the live indicator. */
  status?(live: boolean): void;
}
