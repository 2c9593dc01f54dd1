// Turns a source (watcher) into what the panel renders: snapshots with
// classified flags and modules, and a bounded history of changes. Used by
// `kernel-taint serve` and by Electron main processes that feed the panel
// over IPC.
import { EventEmitter } from 'node:events';
import { actorText, causeText, sinceText } from '../explain-text.js';
import { readModuleTaints } from '../modules.js';
import type { Profile, TaintEvidence, TaintState } from '../types.js';
import { readBootId } from './boot.js';
import { createHealthCheck, type HealthCheckOptions, type TaintHealthCheck } from './health.js';
import type { PanelChange, PanelEvidence, PanelModule, PanelSnapshot } from './panel/types.js';
import type { ModuleLetters, TaintPolicy } from './policy.js';
import { assertSource, changeTime, type SourceChange, SourceHealth, type TaintSource } from './source.js';

/** Options of `createTaintPanelFeed`. */
export interface PanelFeedOptions {
  /** The watcher (or any source) to follow. */
  source: TaintSource;
  policy?: TaintPolicy;
  /** See `HealthCheckOptions`. */
  baselineFile?: string;
  bootIdPath?: string;
  profile?: Profile;
  /** Where the module list comes from, called for each snapshot (default `readModuleTaints`, cached once for the package). */
  readModules?: () => readonly ModuleLetters[];
  /** History entries kept (default 100). */
  historySize?: number;
}

/** Events of a feed. */
export interface PanelFeedEvents {
  /** A change, then the snapshot after it. */
  change: [change: PanelChange, snapshot: PanelSnapshot];
  /** The source reported an error or recovered from one (the snapshot then says so). */
  snapshot: [snapshot: PanelSnapshot];
}

/**
 * Converts a watcher change to a panel history entry (plain JSON).
 *
 * @example
 * watcher.on('change', (c) => win.webContents.send('kernel-taint:change', toPanelChange(c)));
 */
export function toPanelChange(c: SourceChange): PanelChange {
  return {
    seq: c.seq,
    time: new Date(changeTime(c)).toISOString(),
    bootId: c.bootId,
    value: c.current.value,
    letters: c.current.letters,
    added: c.added.map((f) => ({ letter: f.letter, name: f.name, category: f.category })),
    trigger: c.trigger,
    modules: c.modules ? c.modules.carrying.map((m) => m.name) : [],
  };
}

/** A flag's evidence as the panel shows it. */
export function toPanelEvidence(e: TaintEvidence): PanelEvidence {
  return {
    since: e.since ? e.since.toISOString() : null,
    sinceBoot: e.sinceBoot,
    sinceText: sinceText(e),
    cause: e.cause ? causeText(e.cause) : null,
    line: e.cause?.line ?? null,
    actor: e.actor ? actorText(e.actor) : null,
    source: e.source,
  };
}

/**
 * Follows a source and produces panel snapshots and history. Emits
 * `'change'` (entry and new snapshot) and `'snapshot'` (after an error).
 * Create it with `createTaintPanelFeed`.
 *
 * @example
 * const feed = createTaintPanelFeed({ source: watchTaint() });
 * feed.snapshot().status; // 'pass' | 'warn' | 'fail' | 'unknown'
 */
export class TaintPanelFeed extends EventEmitter<PanelFeedEvents> {
  readonly #source: TaintSource;
  readonly #check: TaintHealthCheck;
  readonly #readModules: () => readonly ModuleLetters[];
  readonly #limit: number;
  readonly #bootId: string | null;
  #history: PanelChange[] = [];
  readonly #health: SourceHealth;
  /** Evidence per bit, from the changes that added it (the initial report carries the log's). */
  readonly #evidence = new Map<number, PanelEvidence>();
  readonly #onChange = (c: SourceChange) => {
    for (const e of c.evidence ?? []) this.#evidence.set(e.flag.bit, toPanelEvidence(e));
    const entry = toPanelChange(c);
    this.#history.unshift(entry);
    if (this.#history.length > this.#limit) this.#history.length = this.#limit;
    this.emit('change', entry, this.snapshot(false));
  };
  readonly #onErrorOrRecover = () => {
    this.emit('snapshot', this.snapshot(false));
  };

  constructor(opts: PanelFeedOptions) {
    super();
    assertSource(opts.source, 'createTaintPanelFeed: source');
    this.#source = opts.source;
    // Before the check's own tracker: the feed's listeners run after it.
    this.#health = new SourceHealth(opts.source);
    this.#limit = opts.historySize ?? 100;
    // A process never outlives its boot: read the id once.
    this.#bootId = readBootId(opts.bootIdPath);
    this.#readModules = opts.readModules ?? (() => readModuleTaints({ profile: opts.profile ?? 'auto' }));
    const hc: HealthCheckOptions = { source: opts.source, readModules: () => this.#moduleList() };
    if (opts.policy) hc.policy = opts.policy;
    if (opts.baselineFile) hc.baselineFile = opts.baselineFile;
    if (opts.bootIdPath) hc.bootIdPath = opts.bootIdPath;
    if (opts.profile) hc.profile = opts.profile;
    this.#check = createHealthCheck(hc);
    opts.source.on('change', this.#onChange);
    (opts.source as Partial<EventEmitter>).on?.('error', this.#onErrorOrRecover);
    (opts.source as Partial<EventEmitter>).on?.('recover', this.#onErrorOrRecover);
  }

  // No cache here: the default readModuleTaints() is the package's one cached list (lib/modules.ts).
  #moduleList(): readonly ModuleLetters[] {
    try {
      return this.#readModules();
    } catch {
      return [];
    }
  }

  /** The newest-first history. */
  history(): PanelChange[] {
    return [...this.#history];
  }

  /** The current snapshot (with the history unless `withHistory` is false). */
  snapshot(withHistory = true): PanelSnapshot {
    const time = new Date().toISOString();
    const body = this.#check.check();
    const c = this.#check.last;
    const state: TaintState | null | undefined = c ? this.#source.current : null;
    const descriptions = new Map((state?.flags ?? []).map((f) => [f.bit, f.description]));
    const modules: PanelModule[] = this.#moduleList().map((m) => ({ name: m.name, letters: m.letters }));
    const failure = this.#health.error as (Error & { code?: string }) | null;
    const sourceError = failure ? `${failure.message}${failure.code ? ` (${failure.code})` : ''}` : null;
    const error = c ? sourceError : (body.output ?? sourceError);
    const since = this.#health.errorSince;
    const snap: PanelSnapshot = {
      time,
      value: state ? state.value : null,
      tainted: state ? state.tainted : false,
      letters: state ? state.letters : '',
      profile: state ? state.profile : null,
      // A read error fails like /health does (503), unless the check says otherwise.
      status: c ? c.status : body.status === 'fail' ? 'fail' : 'unknown',
      summary: state ? state.toString() : (error ?? 'unknown'),
      flags: (c?.reasons ?? []).map((r) => ({
        bit: r.bit,
        letter: r.letter,
        name: r.name,
        category: r.category,
        description: (r.bit !== null ? descriptions.get(r.bit) : undefined) ?? '',
        status: r.status,
        message: r.message,
        modules: [...r.modules],
        evidence: (r.bit !== null ? this.#evidence.get(r.bit) : undefined) ?? null,
      })),
      modules,
      bootId: this.#bootId,
      error,
      staleSince: since === null ? null : new Date(since).toISOString(),
      staleMs: this.#health.staleMs(),
    };
    if (withHistory) snap.history = this.history();
    return snap;
  }

  /** Stops following the source. */
  close(): void {
    this.#source.off('change', this.#onChange);
    (this.#source as Partial<EventEmitter>).off?.('error', this.#onErrorOrRecover);
    (this.#source as Partial<EventEmitter>).off?.('recover', this.#onErrorOrRecover);
    this.#health.close();
    this.#check.close();
  }
}

/**
 * Creates a panel feed over a source. In an Electron main process, forward
 * its events to the renderer and call `mountTaintPanel(el, { subscribe })`
 * there.
 *
 * @example
 * const feed = createTaintPanelFeed({ source: watchTaint() });
 * ipcMain.handle('kernel-taint:snapshot', () => feed.snapshot());
 * feed.on('change', (change, snapshot) => win.webContents.send('kernel-taint:change', change, snapshot));
 */
export function createTaintPanelFeed(opts: PanelFeedOptions): TaintPanelFeed {
  return new TaintPanelFeed(opts);
}
