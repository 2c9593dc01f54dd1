// What the integrations listen to. A `TaintWatcher` (lib/watch.ts) satisfies
// this interface, and so does any EventEmitter that holds a `current` state
// and emits 'change': tests use a plain emitter, apps may feed their own.
import { describeValue, KernelTaintError } from '../errors.js';
import type { ChangeModules } from '../modules.js';
import type { TaintActor, TaintEvidence, TaintFlag, TaintState } from '../types.js';

/** The part of a watcher's `TaintChange` the integrations use. */
export interface SourceChange {
  /** Watcher-local sequence number. */
  readonly seq: number;
  /** When the change was seen (epoch ms, Date or ISO text). */
  readonly time: number | Date | string;
  /** `/proc/sys/kernel/random/boot_id` when the change was seen. */
  readonly bootId: string | null;
  readonly previous: TaintState;
  readonly current: TaintState;
  /** Exactly the bits in `current` that were not in `previous` (empty when bits dropped). */
  readonly added: readonly TaintFlag[];
  /** What woke the read: `'initial'`, `'inotify'`, `'uevent'`, `'kmsg'`, `'counter'`, `'poll'`... */
  readonly trigger: string;
  /** Modules that carry the added bits, and added bits no module can carry. */
  readonly modules?: ChangeModules;
  /** The kernel log line that preceded the change, when the watcher saw one (a `TaintChange`'s `kmsg`). */
  readonly kmsg?: string | null;
  /** Who caused the change, when known (never guessed). */
  readonly actor?: TaintActor | null;
  /** One entry per added bit: since when, why, by whom (a `TaintChange`'s `evidence`). */
  readonly evidence?: readonly TaintEvidence[];
}

/** Listener type of a source's 'change' event. */
export type SourceChangeListener = (change: SourceChange) => void;

/**
 * Anything with a cached `current` state that emits `'change'`: a
 * `TaintWatcher` from `watchTaint()`, or an EventEmitter of your own.
 *
 * @example
 * const source = watchTaint({ interval: 5000 });
 * const check = healthCheck({ source }); // answers from source.current: no syscall per request
 */
export interface TaintSource {
  /** The latest state; `null`/`undefined` before the first read. */
  readonly current: TaintState | null | undefined;
  on(event: 'change', listener: SourceChangeListener): unknown;
  off(event: 'change', listener: SourceChangeListener): unknown;
}

/** Epoch milliseconds of a change's `time`, whatever form the source used. */
export function changeTime(change: Pick<SourceChange, 'time'>): number {
  const t = change.time;
  if (typeof t === 'number') return t;
  if (t instanceof Date) return t.getTime();
  const n = Date.parse(t);
  return Number.isNaN(n) ? Date.now() : n;
}

/** A source that also reports read failures (a `TaintWatcher` does). */
interface ErrorReportingSource {
  readonly error?: Error | null;
  readonly path?: string;
  on?(event: 'error' | 'recover', listener: (...args: never[]) => void): unknown;
  off?(event: 'error' | 'recover', listener: (...args: never[]) => void): unknown;
}

/**
 * Whether a source's reads work, as its `'error'`, `'recover'` and
 * `'change'` events (and a watcher's `error` property) say. Ages use the
 * monotonic clock, so a wall-clock step does not make a value look fresh.
 *
 * @example
 * const health = new SourceHealth(watcher);
 * if (health.error) console.log(`stale for ${health.staleMs()} ms: ${health.error.message}`);
 */
export class SourceHealth {
  readonly #source: TaintSource & ErrorReportingSource;
  #error: Error | null = null;
  #errors = 0;
  /** performance.now() of the error that made the source stale. */
  #since: number | null = null;
  #sinceWall: number | null = null;
  readonly #onError = (e: Error): void => {
    if (this.#since === null) {
      this.#since = performance.now();
      this.#sinceWall = Date.now();
    }
    this.#error = e;
    this.#errors++;
  };
  readonly #onOk = (): void => {
    this.#error = null;
    this.#since = null;
    this.#sinceWall = null;
  };

  constructor(source: TaintSource) {
    this.#source = source as TaintSource & ErrorReportingSource;
    this.#source.on?.('error', this.#onError as never);
    this.#source.on?.('recover', this.#onOk as never);
    source.on('change', this.#onOk);
  }

  /** The read error that makes `current` stale, or `null`. */
  get error(): Error | null {
    const own = this.#source.error;
    // A watcher knows best (an error before this tracker was attached).
    if (own !== undefined) {
      if (own !== null && this.#since === null) {
        this.#since = performance.now();
        this.#sinceWall = Date.now();
      }
      if (own === null && this.#error !== null) this.#onOk();
      return own;
    }
    return this.#error;
  }

  /** Read errors reported since this tracker was created. */
  get errors(): number {
    return this.#errors;
  }

  /** The path the source reads, when it says (`TaintWatcher.path`). */
  get path(): string | undefined {
    const p = this.#source.path;
    return typeof p === 'string' ? p : undefined;
  }

  /** Milliseconds (monotonic) since the source went into error; 0 when it is fine. */
  staleMs(): number {
    if (this.error === null || this.#since === null) return 0;
    return Math.max(0, Math.round(performance.now() - this.#since));
  }

  /** Wall-clock epoch ms when the source went into error (for display only), or `null`. */
  get errorSince(): number | null {
    return this.error === null ? null : this.#sinceWall;
  }

  /** Stops listening. */
  close(): void {
    this.#source.off?.('error', this.#onError as never);
    this.#source.off?.('recover', this.#onOk as never);
    this.#source.off('change', this.#onOk);
  }
}

/** Throws a coded error unless `source` looks like a `TaintSource`. */
export function assertSource(source: unknown, where = 'source'): asserts source is TaintSource {
  const s = source as { on?: unknown; off?: unknown } | null;
  if (typeof s !== 'object' || s === null || typeof s.on !== 'function' || typeof s.off !== 'function') {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `${where} must be a watcher (or an EventEmitter with a current state), got ${describeValue(source)}`,
    );
  }
}
