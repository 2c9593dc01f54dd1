// The watcher: a typed EventEmitter over the environment's native watch thread
// (native/watch_loop.h). The thread does the waiting, reading and comparing;
// this side turns values into states, applies the filter and emits.
import { EventEmitter } from 'node:events';
import {
  ATTRIBUTION_SOURCES,
  type AttributionMode,
  type AttributionSource,
  type AttributionStatus,
  actorFrom,
  attributionDisabledByEnv,
  attributionsFor,
  causeFrom,
  type TaintAttribution,
} from './attribution.js';
import {
  type NativeBinding,
  type NativeCauses,
  type NativeSysError,
  type NativeTrigger,
  type NativeUnarmed,
  native,
} from './binding.js';
import { readBootId } from './boot-id.js';
import { decodeUncached, resolveIn, stateOf } from './decode.js';
import { DEFAULT_WATCH_INTERVAL, WATCH_TRIGGERS } from './defaults.js';
import { AbortError, fromNative, invalidArg, type TaintError } from './errors.js';
import { changeEvidence, KMSG_PATH, KmsgTail, START_EVIDENCE } from './explain.js';
import { type ProfileTable, profileTable } from './flags.js';
import { attributeModules, type ChangeModules, noteModuleBits, vouchForModules } from './modules.js';
import { detectProfile, resolveProfile } from './profiles.js';
import { checkPath, TAINT_PATH } from './read.js';
import type {
  FlagSelector,
  Profile,
  ResolvedProfile,
  TaintActor,
  TaintEvidence,
  TaintFlag,
  TaintState,
} from './types.js';

/** What can make the watcher re-read the taint value. */
export type WatchTrigger = NativeTrigger;
/** What woke the read that noticed a change; `initial` for the first report. */
export type ChangeTrigger = WatchTrigger | 'initial';

export { DEFAULT_WATCH_INTERVAL, WATCH_TRIGGERS };

export interface WatchTaintOptions {
  /** File to watch instead of /proc/sys/kernel/tainted (tests, bind-mounted /proc). */
  path?: string;
  /**
   * Interval in whole ms of the periodic checks: the `'poll'` re-read and the
   * `'counter'` check (counters are also checked on every other wakeup);
   * `0` disables the timer. Default 5000. With neither `'poll'` nor
   * `'counter'` armed it has no effect, which `'ready'` reports.
   */
  interval?: number;
  /** Do not report the value found at start as a `'change'` with trigger `initial`. */
  ignoreInitial?: boolean;
  /** Keep the process alive while the watcher is open (default `true`, like `fs.watch`). */
  persistent?: boolean;
  /**
   * Bits, letters or names: only these count as new. A change that adds only
   * other bits is not emitted. Must name at least one flag (`[]` would watch
   * nothing and is rejected); leave it out to watch every flag.
   */
  filter?: FlagSelector[];
  /**
   * Triggers to arm (default all; `[]` is rejected). The armed ones are
   * reported by `'ready'`, and the requested ones that could not be armed in
   * its second argument, each with why.
   */
  triggers?: WatchTrigger[];
  /** Closes the watcher when aborted. */
  signal?: AbortSignal;
  /** Flag table for decoding; `auto` (default) detects the running system's. */
  profile?: Profile;
  /**
   * Who set a bit, from the kernel itself (fd-scoped perf events, nothing left
   * behind): `'auto'` (default) arms the `'watchpoint'` source (a hardware
   * watchpoint on `tainted_mask`; needs CAP_SYS_ADMIN and a readable
   * `/proc/kallsyms`) and the `'tracepoint'` source (module_load,
   * error_report_end; needs CAP_PERFMON and tracefs) when this process may
   * use them, watching the kernel's own file and with `triggers` left out
   * or naming them. `'off'`: neither. `'ready'` says, per source, whether it
   * is armed or why not; a source that cannot arm never fails the watcher.
   * With the watchpoint armed, `'ready'` also waits (at most 2 s) for the
   * kernel symbol table to be parsed, so that the first change is not late
   * for it. The environment variable `KERNEL_TAINT_ATTRIBUTION=off` turns both off
   * for the whole process.
   */
  attribution?: AttributionMode;
  /** @internal Test-only: the 'watchpoint' source on an 8-byte variable (`address` as `0x…`) of process `pid`. */
  _watchpointTarget?: { pid: number; address: string };
  /** @internal Test-only: counter files instead of /sys/kernel/warn_count and /sys/kernel/oops_count. */
  _counterPaths?: string[];
  /** @internal Test-only: module directory for `TaintChange.modules` instead of /sys/module. */
  _sysModuleDir?: string;
  /** @internal Test-only: file instead of /proc/modules. */
  _procModulesPath?: string;
  /** @internal Tests and the CLI's `--kmsg` (watch, serve): kernel log (records) for `TaintChange.evidence`; `null` reads none. */
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
  /**
   * Exactly the bits in `current` and not in `previous`, filter applied; `[]` when bits only dropped.
   * A module load sets its bits one store at a time (P, then O, then E): with the `'watchpoint'`
   * trigger it may arrive as up to three changes (each with the loader as `actor`) when the watch
   * thread reads between the stores; the union of their `added` is the module's letters.
   */
  readonly added: readonly TaintFlag[];
  readonly trigger: ChangeTrigger;
  /**
   * Modules that carry the added bits, and the added bits no module can carry. Like `evidence`, read
   * after the event is emitted (at its first access, else right after the delivery's listeners).
   */
  readonly modules: ChangeModules;
  /**
   * The kernel log line that preceded the change: the last `/dev/kmsg` message
   * that signals a taint (a WARN banner in either format, `WARNING: CPU: 1 PID:
   * 42 at …` up to ~6.18 or `WARNING: file:line at func, CPU#1: comm/pid`
   * after; `Oops`, `BUG:`, `Machine check`, `soft lockup`, `Bad page`,
   * `… taints kernel`, `… tainting kernel`, the other lines `explainTaint()`
   * reads) seen
   * since this watcher's previous `'change'`, whichever trigger noticed this
   * one (a `W` found by the poll still carries its `WARNING` line). Record
   * prefix and continuation lines are stripped; cut at 512 bytes. `null` when
   * no such line was seen, for the `initial` report, and when the `kmsg`
   * trigger is not active (not requested, or `/dev/kmsg` unreadable).
   *
   * @example
   * watcher.on('change', (c) => c.kmsg && log.warn(`kernel said: ${c.kmsg}`));
   * // "WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2" (6.1)
   * // "WARNING: mm/slub.c:123 at kfree+0x1/0x2, CPU#1: kworker/1:2/42" (7.x)
   */
  readonly kmsg: string | null;
  /**
   * Who was running when the kernel set the added bits, as the kernel reported
   * it (the `'watchpoint'` or `'tracepoint'` source), with the kind of actor
   * the bits allow: `process` for bits a process asks for (U P O E …),
   * `incidental` for W D B L (whatever task hit the WARN, oops or lockup),
   * `hardware`/`boot` for M I S A. `null` when no source reported these bits:
   * never guessed from timing.
   */
  readonly actor: TaintActor | null;
  /**
   * The kernel's reports about the added bits, the watchpoint's first: task,
   * CPU, kernel time, the code that wrote (`site`, `stack`), the mask before
   * and after; for module_load the module and its taints. `[]` when none.
   */
  readonly attribution: readonly TaintAttribution[];
  /**
   * One entry per added bit: since when, why and by whom, as far as the
   * kernel recorded it (see `explainTaint()`). For the `initial` report the
   * kernel log is read from its start; for a later change the first log record
   * of the new bit, else the `kmsg` line, else the loaded modules explain it,
   * and `since` falls back to the time the watcher saw it (`source: 'watch'`).
   * The log is read only when watching the running kernel's taint (the default
   * `path`) and readable. Read after the `'change'` is emitted, so that the
   * event is not late for it: at the first access of `evidence` (a listener
   * that reads it pays then, ~20 ms under emulation), else right after the
   * listeners of the delivery (in a `process.nextTick`), else at `close()`.
   */
  readonly evidence: readonly TaintEvidence[];
}

/** A requested trigger that could not be armed, and why. */
export interface UnarmedTrigger {
  readonly trigger: WatchTrigger;
  /** A Node-style errno name (`EPERM`: `/dev/kmsg` unreadable without CAP_SYSLOG, `ENOENT`: no counter files before Linux 6.2, `ENOSPC`: inotify watch limit) or `ERR_KERNEL_TAINT_INVALID_ARG` (`poll` with `interval: 0`). */
  readonly code: string;
  readonly message: string;
  /** The error itself (system errors carry `errno`, `syscall` and `path`). */
  readonly error: Error;
}

/** The second argument of `'ready'`. */
export interface WatchReadyInfo {
  /** Every requested trigger that is not armed, with why; `[]` when all are armed. */
  readonly unarmed: readonly UnarmedTrigger[];
  /** The interval (ms) of the periodic checks that actually run (`poll` and/or `counter`); `0` when none does. */
  readonly interval: number;
  /** Plain-language notes about options that have no effect (e.g. an `interval` with neither `poll` nor `counter` armed). */
  readonly notes: readonly string[];
  /** Per attribution source (`watchpoint`, `tracepoint`): armed, or why not. */
  readonly attribution: readonly AttributionStatus[];
}

/** Events of a `TaintWatcher`. */
export interface TaintWatcherEvents {
  /**
   * The triggers are armed: a change from now on is seen. Carries the active
   * triggers, then what was requested but could not be armed, and why.
   */
  ready: [triggers: WatchTrigger[], info: WatchReadyInfo];
  change: [change: TaintChange];
  /** A read failed (path vanished, permission denied, not a taint value); Node-style `code`. Not repeated while the same error persists. */
  error: [error: TaintError];
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
  /** `interval` was given by the caller (not the default). */
  intervalGiven: boolean;
  signal: AbortSignal | undefined;
  profile: ResolvedProfile;
  counterPaths: string[] | undefined;
  /** Attribution sources dropped from the triggers before arming, and why. */
  attributionOff: Map<AttributionSource, string>;
  watchpointTarget: { pid: number; address: string } | undefined;
  modules: { _sysModuleDir?: string; _procModulesPath?: string };
  /** The kernel log read for evidence, or null. */
  kmsgPath: string | null;
}

function resolveConfig(opts: WatchTaintOptions): WatcherConfig {
  if (typeof opts !== 'object' || opts === null) throw invalidArg('watchTaint options must be an object');
  const path = opts.path === undefined ? TAINT_PATH : checkPath(opts.path);
  const interval = opts.interval ?? DEFAULT_WATCH_INTERVAL;
  if (typeof interval !== 'number' || !Number.isInteger(interval) || interval < 0 || interval > 0x7fff_ffff) {
    throw invalidArg(
      `interval must be a whole number of milliseconds in 0..2147483647 (0 disables polling), got ${String(interval)}`,
    );
  }
  for (const key of ['ignoreInitial', 'persistent'] as const) {
    const v = opts[key];
    if (v !== undefined && typeof v !== 'boolean') throw invalidArg(`${key} must be a boolean, got ${String(v)}`);
  }
  const triggers = opts.triggers ?? [...WATCH_TRIGGERS];
  if (!Array.isArray(triggers)) throw invalidArg('triggers must be an array');
  if (triggers.length === 0) {
    throw invalidArg(`triggers must name at least one of ${WATCH_TRIGGERS.join(', ')} (leave it out for all)`);
  }
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
    if (opts.filter.length === 0) {
      throw invalidArg('filter must name at least one flag (leave it out to watch every flag)');
    }
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
  for (const p of counterPaths ?? []) checkPath(p, '_counterPaths');
  const { kept, off, target } = resolveAttribution(opts, triggers, path);
  return {
    path,
    interval,
    ignoreInitial: opts.ignoreInitial === true,
    persistent: opts.persistent !== false,
    mask,
    triggers: [...new Set(kept)],
    intervalGiven: opts.interval !== undefined,
    signal,
    profile,
    counterPaths,
    attributionOff: off,
    watchpointTarget: target,
    modules: { _sysModuleDir: opts._sysModuleDir, _procModulesPath: opts._procModulesPath },
    // The log explains the running kernel: read it only when watching its value.
    kmsgPath: opts._kmsgPath !== undefined ? opts._kmsgPath : path === TAINT_PATH ? KMSG_PATH : null,
  };
}

/** How long `'ready'` waits for the kernel symbol table's parse (the native report's own bound). */
const SYMBOLS_WAIT_MS = 2000;

/** The change path is warmed by every watcher's start, fully by the first of the process (`#warmChangePath`). */
let changePathWarm = false;
const WARM_ROUNDS = 12;
const REWARM_ROUNDS = 2;
const NO_ATTRIBUTION: readonly TaintAttribution[] = Object.freeze([]);
const noop = (): void => {};
/** Per profile table, the value whose one-bit-away states were last decoded (`#decodeAhead`). */
const decodedAhead = new WeakMap<ProfileTable, number>();

/**
 * Debug only: with `KERNEL_TAINT_TRACE_CHANGES=1` in the environment when this
 * module loads, each emitted change pushes its JS stages (process.hrtime ns:
 * entry, after the attribution, the evidence's setup, the change object, the
 * lazy reads' scheduling, and after the emit) to
 * `globalThis[Symbol.for('kernel-taint.changeTrace')]` (the last 256). Used by
 * the real-kernel latency breakdown (test/kernel/guest/attrib.mjs); off, it
 * costs one null check per change.
 */
const changeTrace: ChangeTraceEntry[] | null =
  process.env.KERNEL_TAINT_TRACE_CHANGES === '1' ? traceList(Symbol.for('kernel-taint.changeTrace')) : null;
function traceList(key: symbol): ChangeTraceEntry[] {
  const g = globalThis as Record<symbol, ChangeTraceEntry[] | undefined>;
  g[key] ??= [];
  return g[key];
}
interface ChangeTraceEntry {
  path: string;
  seq: number;
  trigger: string;
  /** When the native delivery entered this watcher's JS (`#onNative`), before the value's decode. */
  entry: bigint | null;
  /** After the value's decode, before the causes' parse. */
  decoded: bigint | null;
  ns: bigint[];
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
  #tail: KmsgTail | null | undefined;
  /** Changes whose `evidence`/`modules` were not read yet (read at the latest at close(), while the log is open). */
  readonly #unresolved = new Set<() => unknown>();

  /** Reads the kernel log to its end once, so that a change reads only the records logged since. */
  #startLog(): void {
    const path = this.#cfg.kmsgPath;
    const tail = path === null ? null : this.#logTail(path);
    if (tail !== null && !tail.started) tail.poll();
  }

  /** The open kernel log for evidence (opened on first use, read by the evidence); `null` when unreadable. */
  #logTail(path: string): KmsgTail | null {
    if (this.#closed) return null;
    // Opened at start (the initial report, a journal opening on the watcher, or the positioning read,
    // whichever comes first, all before any native delivery): its first read explains the start value.
    if (this.#tail === undefined) this.#tail = KmsgTail.open(path, this.#current.flags);
    return this.#tail;
  }

  /**
   * @internal For a journal opened on this watcher (lib/integrations/journal.ts): the evidence of the
   * bits it records at open, from the watcher's own read of the ring at start (made now if nothing
   * made it yet, shared with the initial report), so that the pair reads the ring once.
   */
  [START_EVIDENCE](flags: readonly TaintFlag[]): TaintEvidence[] {
    return this.#evidenceOf(flags, true, null, new Date());
  }

  /** The evidence of `flags` from this watcher's log (through its tail) and module list. */
  #evidenceOf(flags: readonly TaintFlag[], initial: boolean, kmsg: string | null, time: Date): TaintEvidence[] {
    const { kmsgPath, modules } = this.#cfg;
    return changeEvidence(flags, this.#table, {
      initial,
      kmsg,
      time,
      kmsgPath,
      // The log is read whole once, through the tail (at start, or the first change); later changes read
      // on from there, so a change costs the records logged since the last one.
      tail: kmsgPath === null ? null : this.#logTail(kmsgPath),
      ...(modules._sysModuleDir !== undefined ? { sysModuleDir: modules._sysModuleDir } : {}),
      ...(modules._procModulesPath !== undefined ? { procModulesPath: modules._procModulesPath } : {}),
    });
  }
  readonly #cfg: WatcherConfig;
  readonly #triggers: readonly WatchTrigger[];
  #id: number | null;
  #current: TaintState;
  #seq = 0;
  /** Debug trace only (KERNEL_TAINT_TRACE_CHANGES): when the last native delivery entered `#onNative`. */
  #entryNs: bigint | null = null;
  /** Debug trace only: when `#onNative` had decoded the value (before parsing the causes). */
  #decodedNs: bigint | null = null;
  #refd = false;
  #closed = false;
  readonly #ready: WatchReadyInfo;
  #error: Error | null = null;
  #closing: Promise<void> | undefined;
  /** Stops this watcher's watch thread vouching for the cached module list (lib/modules.ts). */
  #unvouch: (() => void) | null = null;
  readonly #onAbort = (): void => {
    void this.close();
  };

  /** @internal Use `watchTaint()`. */
  constructor(cfg: WatcherConfig, binding: WatchBinding) {
    super();
    this.#binding = binding;
    this.#cfg = cfg;
    this.#table = profileTable(cfg.profile);
    const add = () =>
      binding.watchAdd(
        {
          path: cfg.path,
          triggers: cfg.triggers,
          interval: cfg.interval,
          mask: cfg.mask,
          ...(cfg.counterPaths ? { counterPaths: cfg.counterPaths } : {}),
          ...(cfg.watchpointTarget ? { _watchpointTarget: cfg.watchpointTarget } : {}),
        },
        (trigger, result, reported, causes) => this.#onNative(trigger, result, reported, causes),
      );
    let r = add();
    // A regular file caught between truncate and write (`echo N > F`) at the
    // very start reads empty: try again for up to ~50 ms before calling it an
    // error, as the watch thread does for later reads.
    for (let i = 0; i < 10 && !('id' in r) && r.reason === 'empty'; i++) {
      Atomics.wait(START_RETRY, 0, 0, 5);
      r = add();
    }
    if (!('id' in r)) throw fromNative(r);
    this.#id = r.id;
    this.#triggers = Object.freeze([...r.triggers]);
    this.#ready = readyInfo(cfg, r.triggers, r.unarmed ?? []);
    this.#current = stateOf(r.value, this.#table);
    noteModuleBits(moduleBits(this.#current));
    const stats = (binding as Partial<NativeBinding>).watchStats;
    if (r.triggers.includes('uevent') && typeof stats === 'function') {
      this.#unvouch = vouchForModules(() => stats.call(binding).ueventModuleEvents);
    }
    if (cfg.persistent) this.ref();
    cfg.signal?.addEventListener('abort', this.#onAbort, { once: true });
    // After the caller attached its listeners. Native deliveries come through
    // the event loop, so none can overtake these.
    process.nextTick(() => {
      if (this.#closed) return;
      if (!cfg.ignoreInitial) {
        const previous = stateOf(0, this.#table);
        this.#emitChange(previous, this.#current, 'initial', this.#addedFlags(0, this.#current), null);
      } else this.#startLog(); // the first change reads only what was logged since 'ready'
      this.#warmChangePath();
      this.#decodeAhead();
      // 'ready' one turn of the event loop later: the minor GC that V8 schedules for what the warm-up
      // allocated runs first (on the event loop, it landed in the first change's delivery: +3-4 ms).
      setImmediate(() =>
        this.#whenSymbols(() => {
          if (!this.#closed) this.emit('ready', [...this.#triggers], this.#ready);
        }),
      );
    });
  }

  /**
   * Runs `then` once the kernel symbol table the watchpoint names its reports with is parsed (at most
   * SYMBOLS_WAIT_MS): read at arming, it is parsed on a helper thread, and a change reported before the
   * parse ends would wait for it (0.7 s seen under TCG). At once without a watchpoint.
   */
  #whenSymbols(then: () => void): void {
    const stats = (this.#binding as Partial<NativeBinding>).watchStats;
    const pending = () => typeof stats === 'function' && stats.call(this.#binding).symbolsPending === true;
    if (!this.#triggers.includes('watchpoint') || !pending()) {
      then();
      return;
    }
    const until = Date.now() + SYMBOLS_WAIT_MS;
    const check = (): void => {
      if (this.#closed || !pending() || Date.now() >= until) {
        then();
        return;
      }
      const t = setTimeout(check, 5);
      if (!this.#refd) t.unref();
    };
    check();
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

  /** What `'ready'` carries as its second argument: unarmed triggers with why, the effective interval. */
  get readyInfo(): WatchReadyInfo {
    return this.#ready;
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
    for (const resolve of [...this.#unresolved]) resolve();
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
    this.#tail?.close();
    this.#tail = null;
    this.#unvouch?.();
    this.#unvouch = null;
    this.#closing = new Promise<void>((resolve) => {
      process.nextTick(() => {
        this.emit('close');
        resolve();
      });
    });
    return this.#closing;
  }

  /**
   * Yields each `TaintChange`. The iteration and the watcher end together: it
   * ends when the watcher closes, and ending it closes the watcher, whether by
   * `break`/`return` or by an `'error'` (thrown from the loop), so a loop that
   * stopped never leaves a watcher holding the process open. To keep watching
   * across read errors (a file that vanishes and comes back), listen to
   * `'change'` and `'error'` instead.
   *
   * @example
   * for await (const c of watchTaint({ ignoreInitial: true })) console.log(`${c.current}`);
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
      void this.close();
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
        return this.close().then(() => ({ value: undefined, done: true as const }));
      },
      [Symbol.asyncIterator]: () => it,
    };
    return it;
  }

  #addedFlags(previous: number, current: TaintState): TaintFlag[] {
    // Unsigned: bit 31 makes a signed 32-bit result negative.
    const bits = (current.value & ~previous & this.#cfg.mask) >>> 0;
    const added: TaintFlag[] = [];
    if (bits !== 0) for (const f of current.flags) if (((bits >>> f.bit) & 1) === 1) added.push(f);
    return added;
  }

  #emitChange(
    previous: TaintState,
    current: TaintState,
    trigger: ChangeTrigger,
    added: TaintFlag[],
    kmsg: string | null,
    causes: NativeCauses | null = null,
  ): void {
    const ns = changeTrace === null ? null : [process.hrtime.bigint()];
    const { change, resolveAll, evidence } = this.#buildChange(
      ++this.#seq,
      previous,
      current,
      trigger,
      added,
      kmsg,
      causes,
      ns,
    );
    if (trigger === 'initial') {
      evidence();
      // Nothing to explain at start: still read the ring to its end now, so the first change reads only
      // what came since.
      this.#startLog();
    }
    this.#unresolved.add(resolveAll);
    // Right after this delivery's listeners (a tick, not an immediate: no handle to allocate and unref on
    // every change's path).
    process.nextTick(resolveAll);
    if (ns !== null && changeTrace !== null) {
      ns.push(process.hrtime.bigint());
      if (changeTrace.length >= 256) changeTrace.shift();
      changeTrace.push({
        path: this.#cfg.path,
        seq: change.seq,
        trigger,
        entry: this.#entryNs,
        decoded: this.#decodedNs,
        ns,
      });
    }
    this.emit('change', change);
    ns?.push(process.hrtime.bigint());
  }

  /**
   * The change object, with its `evidence` and `modules` read lazily: the evidence reads the kernel log
   * (and maybe the module list), ~20 ms per change under emulation, so it is not read before the emit but
   * at its first access (a listener that uses it pays then), else right after the listeners of this
   * delivery (a tick), or at close(). Builds and reads nothing else: `#warmChangePath` runs it on made-up input.
   */
  #buildChange(
    seq: number,
    previous: TaintState,
    current: TaintState,
    trigger: ChangeTrigger,
    added: TaintFlag[],
    kmsg: string | null,
    causes: NativeCauses | null,
    ns: bigint[] | null,
  ): { change: TaintChange; resolveAll: () => void; evidence: () => readonly TaintEvidence[] } {
    let addedBits = 0;
    for (const f of added) addedBits |= 1 << f.bit;
    addedBits >>>= 0;
    const attribution = causes === null ? NO_ATTRIBUTION : attributionsFor(causes, addedBits);
    ns?.push(process.hrtime.bigint());
    const time = new Date();
    const initial = trigger === 'initial';
    let evidence: readonly TaintEvidence[] | null = null;
    const resolveEvidence = (): readonly TaintEvidence[] => {
      if (evidence !== null) return evidence;
      evidence = Object.freeze(withActors(this.#evidenceOf(added, initial, kmsg, time), attribution));
      return evidence;
    };
    // The module list too (re-read when a module bit appears: ~15 ms under emulation): read after the emit.
    let changeModules: ChangeModules | null = null;
    const resolveModules = (): ChangeModules => {
      changeModules ??= attributeModules(added, this.#cfg.profile, this.#cfg.modules);
      return changeModules;
    };
    const resolveAll = (): void => {
      if (!this.#unresolved.delete(resolveAll)) return;
      resolveModules();
      resolveEvidence();
      if (!this.#closed) this.#decodeAhead();
    };
    ns?.push(process.hrtime.bigint());
    // One literal (accessors included), frozen: the cheapest way V8 builds it, on every change's path.
    const change: TaintChange = Object.freeze({
      seq,
      time,
      bootId: bootId(),
      previous,
      current,
      added: Object.freeze(added),
      trigger,
      get modules(): ChangeModules {
        return resolveModules();
      },
      kmsg,
      actor: attribution.length === 0 ? null : actorFrom(attribution, addedBits),
      attribution,
      get evidence(): readonly TaintEvidence[] {
        return resolveEvidence();
      },
    });
    ns?.push(process.hrtime.bigint());
    return { change, resolveAll, evidence: resolveEvidence };
  }

  /**
   * Decodes, off a change's path, the states one more bit away from the current value: bits are only
   * added until reboot and most changes add one, so the next change usually finds its state decoded (a
   * decode is ~1 ms of a change's JS under emulation; the states are cached by value, shared and immutable).
   */
  #decodeAhead(): void {
    const value = this.#current.value;
    // Every watcher of the process decodes after the same change: once is enough.
    if (decodedAhead.get(this.#table) === value) return;
    decodedAhead.set(this.#table, value);
    for (const f of this.#table.flags) {
      const bit = (1 << f.bit) >>> 0;
      if ((value & bit) === 0) stateOf((value | bit) >>> 0, this.#table);
    }
  }

  /**
   * While a watcher waits for `'ready'`: V8 compiles a function at its first call and only caches
   * property lookups after several calls, so the first changes of a process paid for that (the first one
   * 40-80 ms after the write under emulation, 2-3 ms on hardware; BENCHMARKS.md). Here the change path
   * (decode, added flags, the kernel reports, actor, the change object) runs on made-up input; nothing is
   * emitted, read or counted. The first watcher of a process runs it 12 times; later ones twice, which
   * compiles again what V8 dropped since (it flushes the bytecode of functions unused for a few GCs).
   */
  #warmChangePath(): void {
    const rounds = changePathWarm ? REWARM_ROUNDS : WARM_ROUNDS;
    changePathWarm = true;
    const table = this.#table;
    const report = (bits: number, extra: Record<string, string | number>) => ({
      pid: 1,
      tid: 1,
      cpu: 0,
      timeNs: 1,
      comm: 'warm',
      exe: '/warm',
      uid: 0,
      site: 'proc_taint+0x1',
      bits,
      ...extra,
    });
    const none = decodeUncached(0, table);
    for (let i = 0; i < rounds; i++) {
      const bit = i % 20;
      const current = decodeUncached(((1 << bit) | 1) >>> 0, table);
      const added = this.#addedFlags(none.value, current);
      moduleBits(current);
      const causes = parseCauses(
        JSON.stringify({
          watchpoint: report(current.value, {
            stack: 'proc_taint+0x1\nproc_sys_call_handler+0x2',
            before: '0x0',
            after: `0x${current.value.toString(16)}`,
            samples: 1,
            writers: 1,
          }),
          tracepoint: report(1, { event: 'module_load', module: 'warm' }),
          kmsg: { line: 'warm: loading out-of-tree module taints kernel.' },
        }),
      );
      this.#buildChange(0, none, current, 'watchpoint', added, causes?.kmsg?.line ?? null, causes, null);
    }
    process.nextTick(noop); // what a change schedules its deferred reads with
  }

  // Called from the native thread-safe function on the JS thread. A throwing
  // listener propagates to native code, which makes it an uncaught exception.
  // The native side decides what is reported and which cause goes with it
  // (native/watch_loop.h, "Attribution"); this side only decodes and emits.
  #onNative(
    trigger: NativeTrigger,
    result: number | NativeSysError,
    reported: boolean,
    causesJson: string | null,
  ): void {
    if (changeTrace !== null) this.#entryNs = process.hrtime.bigint();
    if (this.#closed) return;
    if (typeof result !== 'number') {
      this.#error = fromNative(result);
      this.emit('error', this.#error as TaintError);
      return;
    }
    if (this.#error !== null) {
      this.#error = null;
      this.emit('recover');
      if (this.#closed) return;
    }
    const previous = this.#current;
    const current = stateOf(result, this.#table);
    this.#current = current;
    noteModuleBits(moduleBits(current));
    if (!reported) return; // only bits outside the filter appeared
    const added = this.#addedFlags(previous.value, current);
    if (changeTrace !== null) this.#decodedNs = process.hrtime.bigint();
    const causes = causesJson === null ? null : parseCauses(causesJson);
    this.#emitChange(previous, current, trigger, added, causes?.kmsg?.line ?? null, causes);
  }
}

/** The native causes of a change (JSON text from native/watch_loop.cc); `null` if it is not an object. */
function parseCauses(json: string): NativeCauses | null {
  try {
    const v: unknown = JSON.parse(json);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as NativeCauses) : null;
  } catch {
    return null;
  }
}

/** The bits of a value that module loads set (their change makes the module list stale). */
function moduleBits(s: TaintState): number {
  let mask = moduleMasks.get(s.profile);
  if (mask === undefined) {
    mask = 0;
    for (const f of profileTable(s.profile).flags) if (f.module) mask = (mask | (1 << f.bit)) >>> 0;
    moduleMasks.set(s.profile, mask);
  }
  return (s.value & mask) >>> 0;
}
const moduleMasks = new Map<string, number>();

/** What 'ready' says besides the armed triggers. */
function readyInfo(cfg: WatcherConfig, armed: readonly WatchTrigger[], unarmed: NativeUnarmed[]): WatchReadyInfo {
  const periodic = armed.includes('poll') || armed.includes('counter');
  const interval = periodic ? cfg.interval : 0;
  const notes: string[] = [];
  if (cfg.intervalGiven && cfg.interval > 0 && !periodic) {
    notes.push(`interval ${cfg.interval} ms has no effect: neither 'poll' nor 'counter' is armed`);
  }
  if (armed.includes('counter') && !armed.includes('poll') && interval > 0) {
    notes.push(`every ${interval} ms only the warn/oops counters are checked ('poll' is not armed)`);
  }
  const list = unarmed.map((u): UnarmedTrigger => {
    const error =
      u.reason === 'unused'
        ? invalidArg(`trigger '${u.trigger}' is unused: ${u.content ?? ''}`)
        : fromNative({ ...u, path: u.path ?? '' });
    const code = (error as Error & { code?: string }).code ?? 'ERR_KERNEL_TAINT_UNSUPPORTED';
    return Object.freeze({ trigger: u.trigger, code, message: error.message, error });
  });
  return Object.freeze({
    unarmed: Object.freeze(list),
    interval,
    notes: Object.freeze(notes),
    attribution: attributionStatus(cfg, armed, unarmed),
  });
}

/**
 * Evidence entries the log did not fully explain get, from the kernel report
 * (watchpoint, tracepoint) that set their bit, its actor (with the kind of
 * that bit) and the cause the report itself shows (a sysctl write).
 */
/** A cell to sleep on for the start-up re-read of an empty file (`Atomics.wait` with a timeout). */
const START_RETRY = new Int32Array(new SharedArrayBuffer(4));

function withActors(evidence: readonly TaintEvidence[], attribution: readonly TaintAttribution[]): TaintEvidence[] {
  return evidence.map((e) => {
    if (e.actor !== null && e.cause !== null) return e;
    const bit = (1 << e.flag.bit) >>> 0;
    const report = attribution.find((a) => (a.bits & bit) !== 0);
    if (report === undefined) return e;
    return Object.freeze({
      ...e,
      actor: e.actor ?? actorFrom([report], bit),
      cause: e.cause ?? causeFrom(report),
    });
  });
}

/** Per attribution source: armed, or why not (from the native side, or from resolveAttribution). */
function attributionStatus(
  cfg: WatcherConfig,
  armed: readonly WatchTrigger[],
  unarmed: NativeUnarmed[],
): readonly AttributionStatus[] {
  return Object.freeze(
    ATTRIBUTION_SOURCES.map((source): AttributionStatus => {
      if (armed.includes(source)) return Object.freeze({ source, armed: true, reason: null });
      const u = unarmed.find((x) => x.trigger === source);
      let reason = cfg.attributionOff.get(source) ?? `${source}: not requested (triggers)`;
      if (u !== undefined) {
        reason =
          u.reason === 'unused' && u.content
            ? u.content
            : `${source}: ${fromNative({ ...u, path: u.path ?? '' }).message}`;
      }
      return Object.freeze({ source, armed: false, reason });
    }),
  );
}

/**
 * Which attribution sources stay in the triggers: `attribution: 'off'`, the
 * environment switch, or a watched file that is not the kernel's drop them
 * (with the reason 'ready' gives).
 */
function resolveAttribution(
  opts: WatchTaintOptions,
  triggers: WatchTrigger[],
  path: string,
): { kept: WatchTrigger[]; off: Map<AttributionSource, string>; target: { pid: number; address: string } | undefined } {
  const mode = opts.attribution ?? 'auto';
  if (mode !== 'auto' && mode !== 'off') {
    throw invalidArg(`attribution must be 'auto' or 'off', got ${JSON.stringify(mode)}`);
  }
  const target = opts._watchpointTarget;
  if (
    target !== undefined &&
    (typeof target !== 'object' ||
      target === null ||
      !Number.isInteger(target.pid) ||
      target.pid <= 0 ||
      typeof target.address !== 'string' ||
      !/^0x[0-9a-f]{1,16}$/i.test(target.address))
  ) {
    throw invalidArg("_watchpointTarget must be { pid: a positive integer, address: '0x…' }");
  }
  const off = new Map<AttributionSource, string>();
  for (const source of ATTRIBUTION_SOURCES) {
    if (!triggers.includes(source)) continue;
    if (mode === 'off') off.set(source, `${source}: attribution is 'off'`);
    else if (source === 'watchpoint' && target !== undefined) continue;
    else if (attributionDisabledByEnv()) off.set(source, `${source}: disabled by KERNEL_TAINT_ATTRIBUTION=off`);
    else if (path !== TAINT_PATH && opts.triggers === undefined) {
      off.set(source, `${source}: not armed for ${path} (it reports writes to the kernel's own taint mask)`);
    }
  }
  const kept = triggers.filter((t) => !off.has(t as AttributionSource));
  if (kept.length === 0) {
    throw invalidArg(`no trigger left to arm: ${[...off.values()].join('; ')}`);
  }
  return { kept, off, target };
}

function abortError(signal: AbortSignal): AbortError {
  return new AbortError('watchTaint: the signal was already aborted', { cause: signal.reason });
}

/** @internal Builds a watcher on a given binding (tests pass a fake). */
export function createWatcher(opts: WatchTaintOptions, binding: WatchBinding): TaintWatcher {
  const cfg = resolveConfig(opts);
  if (cfg.signal?.aborted) throw abortError(cfg.signal);
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
 * options, `ERR_KERNEL_TAINT_NOT_A_FILE` when the path is a FIFO, socket or
 * device, a Node-style system error when the file cannot be opened or read at
 * start, and an `AbortError` (`code` `'ABORT_ERR'`, the signal's reason as
 * `cause`) when `signal` is already aborted.
 *
 * @example
 * const watcher = watchTaint({ ignoreInitial: true });
 * watcher.on('change', (c) => console.log(`new taint: ${c.added.map((f) => f.letter).join('')} (${c.trigger})`));
 * // later
 * await watcher.close();
 */
export function watchTaint(opts: WatchTaintOptions = {}): TaintWatcher {
  const cfg = resolveConfig(opts);
  if (cfg.signal?.aborted) throw abortError(cfg.signal);
  return new TaintWatcher(cfg, native());
}
