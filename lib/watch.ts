// The watcher: a typed EventEmitter over the environment's native watch thread
// (native/watch_loop.h). The thread does the waiting, reading and comparing;
// this side turns values into states, applies the filter and emits.
import { EventEmitter } from 'node:events';
import { type NativeBinding, type NativeSysError, type NativeTrigger, native } from './binding.js';
import { readBootId } from './boot-id.js';
import { resolveIn, stateOf } from './decode.js';
import { fromNative, invalidArg } from './errors.js';
import { changeEvidence, KMSG_PATH } from './explain.js';
import { type ProfileTable, profileTable } from './flags.js';
import { attributeModules, type ChangeModules } from './modules.js';
import { detectProfile, resolveProfile } from './profiles.js';
import { TAINT_PATH } from './read.js';
import type { FlagSelector, Profile, ResolvedProfile, TaintEvidence, TaintFlag, TaintState } from './types.js';

/** What can make the watcher re-read the taint value. */
export type WatchTrigger = NativeTrigger;
/** What woke the read that noticed a change; `initial` for the first report. */
export type ChangeTrigger = WatchTrigger | 'initial';

/** Every trigger, in the order the watcher prefers them when several fire at once. */
export const WATCH_TRIGGERS: readonly WatchTrigger[] = Object.freeze(['inotify', 'uevent', 'kmsg', 'counter', 'poll']);
/** Default poll backstop interval in milliseconds. */
export const DEFAULT_WATCH_INTERVAL = 5000;

export interface WatchTaintOptions {
  /** File to watch instead of /proc/sys/kernel/tainted (tests, bind-mounted /proc). */
  path?: string;
  /** Poll backstop (and counter check) interval in ms; `0` disables the timer. Default 5000. */
  interval?: number;
  /** Do not report the value found at start as a `'change'` with trigger `initial`. */
  ignoreInitial?: boolean;
  /** Keep the process alive while the watcher is open (default `true`, like `fs.watch`). */
  persistent?: boolean;
  /** Bits, letters or names: only these count as new. A change that adds only other bits is not emitted. */
  filter?: FlagSelector[];
  /** Triggers to arm (default all); the ones that could be armed are reported by `'ready'`. */
  triggers?: WatchTrigger[];
  /** Closes the watcher when aborted. */
  signal?: AbortSignal;
  /** Flag table for decoding; `auto` (default) detects the running system's. */
  profile?: Profile;
  /** @internal Test-only: counter files instead of /sys/kernel/warn_count and /sys/kernel/oops_count. */
  _counterPaths?: string[];
  /** @internal Test-only: module directory for `TaintChange.modules` instead of /sys/module. */
  _sysModuleDir?: string;
  /** @internal Test-only: file instead of /proc/modules. */
  _procModulesPath?: string;
  /** @internal Test-only: kernel log (records) for `TaintChange.evidence`; `null` reads none. */
  _kmsgPath?: string | null;
}

/** One observed change of the taint value. */
export interface TaintChange {
  /** 1 for the first event of this watcher, then 2, 3... */
  readonly seq: number;
  /** When the change reached JS. */
  readonly time: Date;
  /** /proc/sys/kernel/random/boot_id: values from different boots are not comparable. `null` if unreadable. */
  readonly bootId: string | null;
  /** The state before (clean for the initial report). */
  readonly previous: TaintState;
  readonly current: TaintState;
  /** Exactly the bits in `current` and not in `previous`, filter applied; `[]` when bits only dropped. */
  readonly added: readonly TaintFlag[];
  readonly trigger: ChangeTrigger;
  /** Modules that carry the added bits, and the added bits no module can carry. */
  readonly modules: ChangeModules;
  /**
   * The kernel log line that preceded the change: the last `/dev/kmsg` message
   * that signals a taint (`WARNING: CPU: …`, `Oops`, `BUG:`, `Machine check`,
   * `soft lockup`, `Bad page`, `… taints kernel`, `… tainting kernel`) seen
   * since this watcher's previous `'change'`, whichever trigger noticed this
   * one (a `W` found by the poll still carries its `WARNING` line). Record
   * prefix and continuation lines are stripped; cut at 512 bytes. `null` when
   * no such line was seen, for the `initial` report, and when the `kmsg`
   * trigger is not active (not requested, or `/dev/kmsg` unreadable).
   *
   * @example
   * watcher.on('change', (c) => c.kmsg && log.warn(`kernel said: ${c.kmsg}`));
   * // "WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2"
   */
  readonly kmsg: string | null;
  /**
   * One entry per added bit: since when, why and by whom, as far as the
   * kernel recorded it (see `explainTaint()`). For the `initial` report the
   * kernel log is read from its start; for a later change the first log record
   * of the new bit, else the `kmsg` line, else the loaded modules explain it,
   * and `since` falls back to the time the watcher saw it (`source: 'watch'`).
   * The log is read only when watching the running kernel's taint (the default
   * `path`) and readable.
   */
  readonly evidence: readonly TaintEvidence[];
}

/** Events of a `TaintWatcher`. */
export interface TaintWatcherEvents {
  /** The triggers are armed: a change from now on is seen. Carries the active triggers. */
  ready: [triggers: WatchTrigger[]];
  change: [change: TaintChange];
  /** A read failed (path vanished, permission denied, not a taint value); Node-style `code`. Not repeated while the same error persists. */
  error: [error: Error];
  /** A read succeeded again after an `'error'` (whether or not the value changed; a different value also emits `'change'`). */
  recover: [];
  close: [];
}

/** The part of the native binding a watcher uses; tests inject a fake. */
export type WatchBinding = Pick<NativeBinding, 'watchAdd' | 'watchRemove' | 'watchRef' | 'watchUnref'>;

// Ref state is per watcher and aggregated here: the native side holds the event
// loop open while any open watcher of this library copy is persistent.
const persistentCount = new WeakMap<WatchBinding, number>();
function retain(b: WatchBinding): void {
  const n = (persistentCount.get(b) ?? 0) + 1;
  persistentCount.set(b, n);
  if (n === 1) b.watchRef();
}
function release(b: WatchBinding): void {
  const n = (persistentCount.get(b) ?? 0) - 1;
  persistentCount.set(b, n);
  if (n === 0) b.watchUnref();
}

let bootIdCache: string | null | undefined;
function bootId(): string | null {
  if (bootIdCache === undefined) {
    bootIdCache = readBootId();
  }
  return bootIdCache;
}

/** @internal Resolved options. */
export interface WatcherConfig {
  path: string;
  interval: number;
  ignoreInitial: boolean;
  persistent: boolean;
  mask: number;
  triggers: WatchTrigger[];
  signal: AbortSignal | undefined;
  profile: ResolvedProfile;
  counterPaths: string[] | undefined;
  modules: { _sysModuleDir?: string; _procModulesPath?: string };
  /** The kernel log read for evidence, or null. */
  kmsgPath: string | null;
}

function resolveConfig(opts: WatchTaintOptions): WatcherConfig {
  if (typeof opts !== 'object' || opts === null) throw invalidArg('watchTaint options must be an object');
  const path = opts.path ?? TAINT_PATH;
  if (typeof path !== 'string' || path.length === 0) throw invalidArg('path must be a non-empty string');
  const interval = opts.interval ?? DEFAULT_WATCH_INTERVAL;
  if (typeof interval !== 'number' || !Number.isFinite(interval) || interval < 0 || interval > 0x7fff_ffff) {
    throw invalidArg(`interval must be a number of milliseconds >= 0 (0 disables polling), got ${String(interval)}`);
  }
  const triggers = opts.triggers ?? [...WATCH_TRIGGERS];
  if (!Array.isArray(triggers)) throw invalidArg('triggers must be an array');
  for (const t of triggers) {
    if (!WATCH_TRIGGERS.includes(t)) {
      throw invalidArg(`unknown trigger ${JSON.stringify(t)}: expected one of ${WATCH_TRIGGERS.join(', ')}`);
    }
  }
  const profile: ResolvedProfile = resolveProfile(opts.profile, detectProfile);
  const table = profileTable(profile);
  let mask = 0xffff_ffff;
  if (opts.filter !== undefined) {
    if (!Array.isArray(opts.filter)) throw invalidArg('filter must be an array of bits, letters or names');
    mask = 0;
    // Throws ERR_KERNEL_TAINT_UNKNOWN_FLAG for a selector that names nothing.
    for (const sel of opts.filter) mask = (mask | (1 << resolveIn(sel, table))) >>> 0;
  }
  const signal = opts.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw invalidArg('signal must be an AbortSignal');
  const counterPaths = opts._counterPaths;
  if (
    counterPaths !== undefined &&
    !(Array.isArray(counterPaths) && counterPaths.every((p) => typeof p === 'string'))
  ) {
    throw invalidArg('_counterPaths must be an array of paths');
  }
  return {
    path,
    interval,
    ignoreInitial: opts.ignoreInitial === true,
    persistent: opts.persistent !== false,
    mask,
    triggers: [...new Set(triggers)],
    signal,
    profile,
    counterPaths,
    modules: { _sysModuleDir: opts._sysModuleDir, _procModulesPath: opts._procModulesPath },
    // The log explains the running kernel: read it only when watching its value.
    kmsgPath: opts._kmsgPath !== undefined ? opts._kmsgPath : path === TAINT_PATH ? KMSG_PATH : null,
  };
}

/**
 * Watches the kernel taint value. Create it with `watchTaint()`.
 *
 * Events: `'change'` (a `TaintChange`), `'ready'` (the active triggers),
 * `'error'` (Node-style `code`), `'close'`.
 */
export class TaintWatcher extends EventEmitter<TaintWatcherEvents> {
  readonly #binding: WatchBinding;
  readonly #table: ProfileTable;
  readonly #cfg: WatcherConfig;
  readonly #triggers: readonly WatchTrigger[];
  #id: number | null;
  #current: TaintState;
  #seq = 0;
  #refd = false;
  #closed = false;
  #error: Error | null = null;
  /** A kmsg line whose delivery emitted nothing (filtered, or back to the same value): goes with the next change. */
  #heldKmsg: string | null = null;
  #closing: Promise<void> | undefined;
  readonly #onAbort = (): void => {
    void this.close();
  };

  /** @internal Use `watchTaint()`. */
  constructor(cfg: WatcherConfig, binding: WatchBinding) {
    super();
    this.#binding = binding;
    this.#cfg = cfg;
    this.#table = profileTable(cfg.profile);
    const r = binding.watchAdd(
      { path: cfg.path, triggers: cfg.triggers, interval: cfg.interval, counterPaths: cfg.counterPaths },
      (trigger, result, kmsg) => this.#onNative(trigger, result, kmsg),
    );
    if (!('id' in r)) throw fromNative(r);
    this.#id = r.id;
    this.#triggers = Object.freeze([...r.triggers]);
    this.#current = stateOf(r.value, this.#table);
    if (cfg.persistent) this.ref();
    cfg.signal?.addEventListener('abort', this.#onAbort, { once: true });
    // After the caller attached its listeners. Native deliveries come through
    // the event loop, so none can overtake these.
    process.nextTick(() => {
      if (this.#closed) return;
      if (!cfg.ignoreInitial) {
        const previous = stateOf(0, this.#table);
        this.#emitChange(previous, this.#current, 'initial', this.#addedFlags(0, this.#current), null);
      }
      if (!this.#closed) this.emit('ready', [...this.#triggers]);
    });
  }

  /** The last value seen. */
  get current(): TaintState {
    return this.#current;
  }

  /** The file watched (the `path` option, default /proc/sys/kernel/tainted). */
  get path(): string {
    return this.#cfg.path;
  }

  /** The error of the last read, or `null` when the last read succeeded: `current` is then stale. */
  get error(): Error | null {
    return this.#error;
  }

  /** The triggers that are armed (the same list `'ready'` carries). */
  get triggers(): readonly WatchTrigger[] {
    return this.#triggers;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Keeps the process alive while the watcher is open (the default unless `persistent: false`). */
  ref(): this {
    if (!this.#closed && !this.#refd) {
      this.#refd = true;
      retain(this.#binding);
    }
    return this;
  }

  /** Lets the process exit while the watcher is open. */
  unref(): this {
    if (!this.#closed && this.#refd) {
      this.#refd = false;
      release(this.#binding);
    }
    return this;
  }

  /**
   * Stops watching. Synchronous in effect (no `'change'` after it returns);
   * the promise resolves after `'close'` was emitted. Idempotent: later calls
   * return the same promise.
   */
  close(): Promise<void> {
    if (this.#closing) return this.#closing;
    this.#closed = true;
    if (this.#id !== null) {
      this.#binding.watchRemove(this.#id);
      this.#id = null;
    }
    if (this.#refd) {
      this.#refd = false;
      release(this.#binding);
    }
    this.#cfg.signal?.removeEventListener('abort', this.#onAbort);
    this.#closing = new Promise<void>((resolve) => {
      process.nextTick(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closing;
  }

  /**
   * Yields each `TaintChange` (like `events.on`): ends when the watcher
   * closes, throws on `'error'`. Breaking out detaches without closing.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<TaintChange> {
    const queue: TaintChange[] = [];
    let waiters: Array<{ resolve: (r: IteratorResult<TaintChange>) => void; reject: (e: unknown) => void }> = [];
    let failure: { error: Error } | null = null;
    let done = this.#closed;
    const finish = (): void => {
      done = true;
      this.off('change', onChange);
      this.off('error', onError);
      this.off('close', onClose);
      for (const w of waiters) w.resolve({ value: undefined, done: true });
      waiters = [];
    };
    const onChange = (c: TaintChange): void => {
      const w = waiters.shift();
      if (w) w.resolve({ value: c, done: false });
      else queue.push(c);
    };
    const onError = (error: Error): void => {
      const w = waiters.shift();
      if (w) w.reject(error);
      else failure = { error };
      finish();
    };
    const onClose = (): void => finish();
    if (!done) {
      this.on('change', onChange);
      this.on('error', onError);
      this.on('close', onClose);
    }
    const it: AsyncIterableIterator<TaintChange> = {
      next: () => {
        const c = queue.shift();
        if (c) return Promise.resolve({ value: c, done: false });
        if (failure) {
          const { error } = failure;
          failure = null;
          return Promise.reject(error);
        }
        if (done) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => waiters.push({ resolve, reject }));
      },
      return: () => {
        queue.length = 0;
        finish();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  #addedFlags(previous: number, current: TaintState): TaintFlag[] {
    // Unsigned: bit 31 makes a signed 32-bit result negative.
    const bits = (current.value & ~previous & this.#cfg.mask) >>> 0;
    return bits === 0 ? [] : current.flags.filter((f) => ((bits >>> f.bit) & 1) === 1);
  }

  #emitChange(
    previous: TaintState,
    current: TaintState,
    trigger: ChangeTrigger,
    added: TaintFlag[],
    kmsg: string | null,
  ): void {
    const time = new Date();
    const { modules, kmsgPath } = this.#cfg;
    const evidence = changeEvidence(added, this.#table, {
      initial: trigger === 'initial',
      kmsg,
      time,
      kmsgPath,
      ...(modules._sysModuleDir !== undefined ? { sysModuleDir: modules._sysModuleDir } : {}),
      ...(modules._procModulesPath !== undefined ? { procModulesPath: modules._procModulesPath } : {}),
    });
    const change: TaintChange = Object.freeze({
      seq: ++this.#seq,
      time,
      bootId: bootId(),
      previous,
      current,
      added: Object.freeze(added),
      trigger,
      modules: attributeModules(added, this.#cfg.profile, this.#cfg.modules),
      kmsg,
      evidence: Object.freeze(evidence),
    });
    this.emit('change', change);
  }

  // Called from the native thread-safe function on the JS thread. A throwing
  // listener propagates to native code, which makes it an uncaught exception.
  #onNative(trigger: NativeTrigger, result: number | NativeSysError, kmsg: string | null): void {
    if (this.#closed) return;
    if (typeof result !== 'number') {
      this.#error = fromNative(result);
      this.emit('error', this.#error);
      return;
    }
    if (this.#error !== null) {
      this.#error = null;
      this.emit('recover');
      if (this.#closed) return;
    }
    // The latest line since the previous 'change', even if a delivery in between emitted nothing.
    const line = kmsg ?? this.#heldKmsg;
    this.#heldKmsg = line;
    const previous = this.#current;
    if (result === previous.value) return; // coalesced back to the same value
    const current = stateOf(result, this.#table);
    this.#current = current;
    const added = this.#addedFlags(previous.value, current);
    const dropped = (previous.value & ~current.value) >>> 0 !== 0;
    // Only bits outside the filter appeared: nothing new to report.
    if (added.length === 0 && !dropped) return;
    this.#heldKmsg = null;
    this.#emitChange(previous, current, trigger, added, line);
  }
}

/** @internal Builds a watcher on a given binding (tests pass a fake). */
export function createWatcher(opts: WatchTaintOptions, binding: WatchBinding): TaintWatcher {
  const cfg = resolveConfig(opts);
  if (cfg.signal?.aborted) throw cfg.signal.reason;
  return new TaintWatcher(cfg, binding);
}

/**
 * Watches the kernel taint value and emits `'change'` when new bits are set.
 * Event driven: inotify (writes to the sysctl), the module-load uevent,
 * `/dev/kmsg` lines that announce a taint, the warn/oops counters, and a poll
 * backstop (5 s by default) for anything else. All watchers of a process (or
 * Worker) share one native thread.
 *
 * The value found at start is reported as a `'change'` with trigger
 * `initial` (unless `ignoreInitial`), then `'ready'` says which triggers are
 * armed; both on the next tick, so listeners attached right after the call
 * see them.
 *
 * Throws `ERR_KERNEL_TAINT_UNSUPPORTED` off Linux or without the addon,
 * `ERR_KERNEL_TAINT_INVALID_ARG` / `ERR_KERNEL_TAINT_UNKNOWN_FLAG` for bad
 * options, a Node-style system error when the file cannot be opened or read at
 * start, and the abort reason when `signal` is already aborted.
 *
 * @example
 * const watcher = watchTaint({ ignoreInitial: true });
 * watcher.on('change', (c) => console.log(`new taint: ${c.added.map((f) => f.letter).join('')} (${c.trigger})`));
 * // later
 * await watcher.close();
 */
export function watchTaint(opts: WatchTaintOptions = {}): TaintWatcher {
  const cfg = resolveConfig(opts);
  if (cfg.signal?.aborted) throw cfg.signal.reason;
  return new TaintWatcher(cfg, native());
}
