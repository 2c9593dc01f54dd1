// What the integrations listen to. A `TaintWatcher` (lib/watch.ts) satisfies
// this interface, and so does any EventEmitter that holds a `current` state
// and emits 'change': tests use a plain emitter, apps may feed their own.
import type { ChangeModules } from '../modules.js';
import type { TaintFlag, TaintState } from '../types.js';

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
  readonly actor?: string | null;
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
