// The only file that loads the native addon. Loading never throws: when it
// fails (not Linux, no prebuild and no compiler, wrong libc...) the reason is
// kept and reported by every call that needs the addon.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { UnsupportedError } from './errors.js';

/** What a failed system call looks like when it comes back from the addon. */
export interface NativeSysError {
  errno: number;
  syscall: string;
  path: string;
  /**
   * Content errors: the file was read but holds no taint value (`empty`,
   * `invalid`, `range`: over 32 bits, `long`: over 32 bytes); `type`: the path
   * is not a regular file (content names the type: `fifo`, `socket`, ...);
   * `unused`: a trigger this watch cannot use (content says why);
   * `unavailable`: an event source that cannot work here (content says why).
   */
  reason?: 'empty' | 'invalid' | 'range' | 'long' | 'type' | 'unused' | 'unavailable';
  content?: string;
}

/** The native surface (native/addon.cc). */
export interface NativeBinding {
  /** Opens a kept descriptor; returns a small integer handle. */
  openReader(path: string): number | NativeSysError;
  /** One pread + strict parse on a kept descriptor. Ignores `this`, so it may be called unbound. */
  readValue(handle: number): number | NativeSysError;
  closeReader(handle: number): void;
  /** The native parser, for tests. */
  parseText(text: string): number | NativeSysError;

  /**
   * Registers a watch on the environment's watch thread (started by the first
   * watch, stopped and joined by the last `watchRemove`). Opens `path`, arms the
   * requested triggers and reads the initial value synchronously. `callback`
   * runs on the JS thread only when the value (or the error) changed, at most
   * once per change burst: `(trigger, value | error, reported, causes)`.
   * Throws `TypeError` on bad arguments; returns the error of the open or
   * initial read.
   */
  watchAdd(options: NativeWatchOptions, callback: NativeWatchCallback): NativeWatchAdded | NativeSysError;
  /** Unregisters a watch; no callback for it runs afterwards. Returns whether it existed. */
  watchRemove(id: number): boolean;
  /** Counted: the watch thread keeps the event loop alive while the count is above zero. */
  watchRef(): void;
  watchUnref(): void;
  /** Cumulative counters of this environment's watch thread (benchmarks, leak tests). */
  watchStats(): NativeWatchStats;
  /** flock(fd, LOCK_EX | LOCK_NB) or flock(fd, LOCK_UN) (the journal's writer lock); 0 or the error. */
  flock(fd: number, mode: 'ex' | 'un'): 0 | NativeSysError;
}

/** Names of the native watch triggers. */
export type NativeTrigger = 'inotify' | 'uevent' | 'kmsg' | 'counter' | 'poll' | 'watchpoint' | 'tracepoint';

export interface NativeWatchOptions {
  path: string;
  triggers: readonly NativeTrigger[];
  /** Poll/counter-check interval in ms; 0 disables the timer. */
  interval: number;
  /** Bits whose appearance is reported (the watcher's filter); default all. */
  mask?: number;
  /** Counter files to check (default /sys/kernel/warn_count and oops_count); tests point it at temp files. */
  counterPaths?: readonly string[];
  /** Test-only: point the 'watchpoint' source at an 8-byte variable of a user-space process. */
  _watchpointTarget?: { pid: number; address: string };
}

/**
 * What the event sources knew about the cause of a change, by source name:
 * `kmsg: { line }` is the message text of the last taint-signalling
 * `/dev/kmsg` record (prefix and continuation lines stripped, at most 512
 * bytes). Other sources (perf events) add their own fields.
 */
export type NativeCauses = { kmsg?: { line: string } } & Record<string, Record<string, string | number | string[]>>;

/**
 * A delivery of the watch thread. `reported`: a value change that adds a bit
 * inside the watch's `mask` or drops any bit (the watcher emits `'change'`);
 * other value deliveries only update the current value. `causes`: only on a
 * reported change, the latest cause each source recorded since this watch's
 * previous reported change, whichever trigger noticed it (a cause of an
 * unreported delivery waits for the next reported one); `null` when none.
 */
export type NativeWatchCallback = (
  trigger: NativeTrigger,
  result: number | NativeSysError,
  reported: boolean,
  /** `NativeCauses` as JSON text (one string to cross N-API instead of a call per field). */
  causes: string | null,
) => void;

/** A requested trigger that could not be armed: why, as a system error or a reason. */
export type NativeUnarmed = NativeSysError & { trigger: NativeTrigger };

export interface NativeWatchAdded {
  id: number;
  /** The initial value. */
  value: number;
  /** The triggers actually armed (kmsg is skipped when unreadable, counters when absent...). */
  triggers: NativeTrigger[];
  /** The requested triggers that are not armed, each with why. */
  unarmed: NativeUnarmed[];
}

export interface NativeWatchStats {
  running: boolean;
  watches: number;
  refs: number;
  threadsStarted: number;
  /** epoll_wait returns. */
  wakeups: number;
  wakeupsBySource: { inotify: number; uevent: number; kmsg: number; timer: number; control: number };
  /** preads of watched files. */
  reads: number;
  counterReads: number;
  counterChanges: number;
  /** Callbacks called. */
  deliveries: number;
  /** Thread-safe-function calls that reached the JS thread. */
  jsCalls: number;
  ueventMessages: number;
  ueventModuleAdds: number;
  /** Module uevents (add and remove) plus socket overflows: the generation of the module list (lib/modules.ts). */
  ueventModuleEvents: number;
  kmsgRecords: number;
  kmsgMatches: number;
  kmsgOverruns: number;
  /** Reads of an empty regular file held back for a re-read (a write caught between truncate and write). */
  deferredEmpty: number;
  /** The kernel symbol table is being parsed (a watchpoint report would wait for it); `'ready'` waits. */
  symbolsPending: boolean;
  /**
   * Where the last value change's time went, CLOCK_MONOTONIC ns (the clock of
   * `process.hrtime.bigint()`); 0 = stage not reached (sampleNs: no watchpoint
   * sample). Stages: the write's watchpoint sample, the watch thread's wakeup,
   * the value read, the causes taken, the thread-safe call queued, the JS
   * thread's delivery start and end (every callback returned).
   */
  lastChange: {
    sampleNs: number;
    wakeNs: number;
    readNs: number;
    causesNs: number;
    queuedNs: number;
    callNs: number;
    doneNs: number;
  };
}

function packageRoot(): string {
  // dist/*.cjs → package root; under vitest, lib/ → package root. The CJS build
  // turns import.meta.dirname into the chunk's own __dirname (never the global
  // one, which is '.' under `node -e`), without a round trip through a URL.
  return join(import.meta.dirname, '..');
}

/**
 * The binary node-gyp-build would pick in the two usual layouts, found with a
 * stat instead of its directory scans (a clone's build/Release first, then
 * the shipped prebuild for this arch and libc); null hands the choice (and the
 * error that explains a missing binary) to node-gyp-build.
 */
function knownBinary(root: string): string | null {
  const release = join(root, 'build/Release/kernel_taint.node');
  if (!process.env.PREBUILDS_ONLY && existsSync(release)) return release;
  const libc = process.env.LIBC || (existsSync('/etc/alpine-release') ? 'musl' : 'glibc');
  const prebuild = join(root, `prebuilds/linux-${process.arch}/kernel-taint.${libc}.node`);
  return existsSync(prebuild) ? prebuild : null;
}

let loaded: NativeBinding | null | undefined;
let loadError: Error | undefined;

function load(): NativeBinding | null {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') {
    loadError = new UnsupportedError(
      `kernel taint can only be read on Linux (this is ${process.platform}); decodeTaint, formatTaint and parseTaint work everywhere`,
    );
    loaded = null;
    return loaded;
  }
  try {
    const root = packageRoot();
    const req = createRequire(join(root, 'package.json'));
    const direct = knownBinary(root);
    const b = (
      direct ? req(direct) : (req('node-gyp-build') as (dir: string) => unknown)(root)
    ) as Partial<NativeBinding>;
    if (typeof b.readValue !== 'function')
      throw new Error('the loaded binary has no reader (built for another platform?)');
    loaded = b as NativeBinding;
  } catch (cause) {
    loadError = new UnsupportedError(
      `the kernel-taint native addon could not be loaded: ${(cause as Error)?.message ?? cause}. Reinstall the package (npm rebuild kernel-taint) or see the README's troubleshooting section.`,
      { cause },
    );
    loaded = null;
  }
  return loaded;
}

/** Whether reading and watching work here (Linux with a loadable native addon). */
export function isSupported(): boolean {
  return load() !== null;
}

/** The addon, or throws the `ERR_KERNEL_TAINT_UNSUPPORTED` error that says why it is missing. */
export function native(): NativeBinding {
  const b = load();
  if (b === null) throw loadError ?? new UnsupportedError('kernel-taint is not supported here');
  return b;
}

/** The reason reading is unsupported, or `undefined` when it is supported. */
export function unsupportedReason(): Error | undefined {
  load();
  return loadError;
}
