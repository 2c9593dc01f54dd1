// The kernel's own reports of who wrote the taint mask (native/attribution:
// the 'watchpoint' and 'tracepoint' perf sources), turned into what a
// TaintChange carries: `attribution` (what the kernel reported, as reported)
// and `actor` (who was running, with the kind from attribution.md §4).
// Nothing here guesses: a change gets an actor only from a report whose bits
// are among the bits the change added.
import type { TaintActor, TaintCause } from './types.js';

/** The perf-based attribution sources. */
export type AttributionSource = 'watchpoint' | 'tracepoint';
export const ATTRIBUTION_SOURCES: readonly AttributionSource[] = Object.freeze(['watchpoint', 'tracepoint']);

/** `watchTaint({ attribution })`: `auto` arms what this process may use; `off` arms nothing. */
export type AttributionMode = 'auto' | 'off';

/**
 * Environment switch that turns the perf sources off for every watcher of the
 * process, whatever the code asks: `KERNEL_TAINT_ATTRIBUTION=off`.
 */
export const ATTRIBUTION_ENV = 'KERNEL_TAINT_ATTRIBUTION';

/** What one kernel report said about a write to the taint mask (or a tracepoint hit). */
export interface TaintAttribution {
  /** `watchpoint`: the hardware watchpoint on `tainted_mask` trapped the write; `tracepoint`: module_load / error_report_end fired. */
  readonly via: AttributionSource;
  /** The task running when the kernel reported it (thread group id and thread id); 0 = the idle task or interrupt context. */
  readonly pid: number;
  readonly tid: number;
  readonly cpu: number;
  /** `/proc/<pid>/task/<tid>/comm`, read when the report was drained; `null` when the task was gone (or pid 0). */
  readonly comm: string | null;
  /** `/proc/<pid>/exe` when readable (not for kernel threads, or without privilege). */
  readonly exe: string | null;
  readonly uid: number | null;
  /** When the kernel took the report: CLOCK_MONOTONIC ns (the clock of `process.hrtime.bigint()`, ns since boot without suspend). */
  readonly timeNs: number;
  /** The code that caused the write: first kernel frame outside taint/WARN/trap machinery (`proc_taint+0x14e`, `kt_warn_init+0x11 [kt_warn]`); for error_report_end the WARN caller. */
  readonly site: string | null;
  /** Watchpoint: the symbolized kernel callchain, innermost first (`add_taint+0x1a`, …). */
  readonly stack: readonly string[];
  /** Bits the report is about: added by the write (watchpoint), the module's taints (module_load), W or B (error report). */
  readonly bits: number;
  /** Watchpoint: the mask before and after the write; traps folded into this report (a WARN storm on a set bit adds none). */
  readonly before?: number;
  readonly after?: number;
  readonly samples?: number;
  /**
   * Watchpoint: 1 when every trap folded into this report came from one thread; 2 when traps of
   * several threads were drained together (a WARN storm on a set bit beside a real write). The
   * kernel does not record which of them changed the mask, so such a report gives no actor;
   * `pid`/`comm`/`site` are then the earliest trap's.
   */
  readonly writers?: number;
  /** Tracepoint: which one, and what it said. */
  readonly event?: 'module_load' | 'error_report_end';
  readonly module?: string;
  readonly detector?: 'kfence' | 'kasan' | 'warning' | number;
}

/** Per attribution source: armed, or why not (the second argument of `'ready'`). */
export interface AttributionStatus {
  readonly source: AttributionSource;
  readonly armed: boolean;
  /** Why it is not armed (`"watchpoint: needs CAP_SYS_ADMIN"`), or a note on a partial arm; `null` when fully armed. */
  readonly reason: string | null;
}

// Bits set by a process asking for it (module loads, sysctl writes, unsafe
// parameters, fwctl, forced rmmod): P F R U C K O E X N J.
const PROCESS_BITS =
  (1 << 0) |
  (1 << 1) |
  (1 << 3) |
  (1 << 6) |
  (1 << 10) |
  (1 << 12) |
  (1 << 13) |
  (1 << 15) |
  (1 << 16) |
  (1 << 18) |
  (1 << 19);
// Bits set by whatever task hit the problem: B D W L.
const INCIDENTAL_BITS = (1 << 5) | (1 << 7) | (1 << 9) | (1 << 14);
// Machine checks.
const HARDWARE_BITS = 1 << 4;

/** The actor kind for bits set together (attribution.md §4); a process bit wins over the others. */
export function actorKind(bits: number): TaintActor['kind'] {
  if (bits & PROCESS_BITS) return 'process';
  if (bits & INCIDENTAL_BITS) return 'incidental';
  if (bits & HARDWARE_BITS) return 'hardware';
  return 'boot'; // S I A T and unknown bits: firmware, CPU quirks, the build
}

type RawValue = string | number | readonly string[];
type RawCause = Record<string, RawValue>;

const DETECTORS = ['kfence', 'kasan', 'warning'] as const;

function str(v: RawValue | undefined): string | null {
  return typeof v === 'string' && v.length > 0 ? v : null;
}
function num(v: RawValue | undefined): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}
/** `0x` and 1-8 hex digits (a 32-bit mask), else undefined. No RegExp: this runs on a change's path. */
function hex(v: RawValue | undefined): number | undefined {
  if (typeof v !== 'string' || v.length < 3 || v.length > 10 || v[0] !== '0' || (v[1] !== 'x' && v[1] !== 'X')) {
    return undefined;
  }
  let n = 0;
  for (let i = 2; i < v.length; i++) {
    const d = HEX_DIGITS.indexOf(v[i].toLowerCase());
    if (d < 0) return undefined;
    n = n * 16 + d;
  }
  return n >>> 0;
}
const HEX_DIGITS = '0123456789abcdef';

/** One native cause object (`causes.watchpoint` / `causes.tracepoint`) as a `TaintAttribution`; `null` when malformed. */
export function attributionFrom(via: AttributionSource, c: RawCause | undefined): TaintAttribution | null {
  if (c === undefined || c === null || typeof c !== 'object') return null;
  const pid = num(c.pid);
  const bits = num(c.bits);
  if (pid === null || bits === null) return null;
  // What every report has, then each source's own fields; nothing is added or deleted afterwards (a
  // deleted property sent the object to dictionary mode): this runs on every change's path.
  const common = {
    via,
    pid,
    tid: num(c.tid) ?? pid,
    cpu: num(c.cpu) ?? -1,
    comm: str(c.comm),
    exe: str(c.exe),
    uid: num(c.uid),
    timeNs: num(c.timeNs) ?? 0,
    site: str(c.site),
    stack: typeof c.stack === 'string' && c.stack.length > 0 ? c.stack.split('\n') : [],
    bits: bits >>> 0,
  };
  let out: TaintAttribution;
  if (via === 'watchpoint') {
    const before = hex(c.before);
    const after = hex(c.after);
    const samples = num(c.samples) ?? 1;
    const writers = num(c.writers) ?? 1;
    // The native report always has both masks; a malformed one leaves out what it lacks.
    out =
      before !== undefined && after !== undefined
        ? { ...common, before, after, samples, writers }
        : {
            ...common,
            ...(before !== undefined ? { before } : {}),
            ...(after !== undefined ? { after } : {}),
            samples,
            writers,
          };
  } else {
    const d = num(c.detector);
    out = {
      ...common,
      ...(c.event === 'module_load' || c.event === 'error_report_end' ? { event: c.event } : {}),
      ...(str(c.module) !== null ? { module: c.module as string } : {}),
      ...(d !== null ? { detector: DETECTORS[d] ?? d } : {}),
    };
  }
  return Object.freeze(out);
}

/**
 * The reports that explain a change which added `added` bits: each source's
 * latest report, kept only when its bits are among the added ones (a stale
 * report about other bits is not this change's), the watchpoint first.
 */
export function attributionsFor(
  causes: Record<string, RawCause> | null | undefined,
  added: number,
): readonly TaintAttribution[] {
  if (!causes || added === 0) return [];
  const out: TaintAttribution[] = [];
  for (const via of ATTRIBUTION_SOURCES) {
    const a = attributionFrom(via, causes[via]);
    if (a !== null && (a.bits & added) !== 0) out.push(a);
  }
  return Object.freeze(out);
}

/** Whether a report names one writer (a watchpoint report of several threads' traps, `writers` 2, does not). */
function oneWriter(a: TaintAttribution): boolean {
  return (a.writers ?? 1) < 2;
}

/**
 * The actor of a change: from its first report that names one writer, with the kind of the bits that
 * report set. A watchpoint report of several threads' traps (`writers` 2) names nobody: the kernel did
 * not record which of them changed the mask.
 */
export function actorFrom(attribution: readonly TaintAttribution[], added: number): TaintActor | null {
  const a = attribution.find(oneWriter);
  if (a === undefined) return null;
  return Object.freeze({
    kind: actorKind(a.bits & added),
    pid: a.pid,
    tid: a.tid,
    comm: a.comm,
    exe: a.exe,
    uid: a.uid,
    via: a.via,
  });
}

/**
 * The cause a kernel report itself shows, for a bit the log did not explain:
 * a watchpoint hit whose writer is the sysctl handler (`proc_taint`, or a
 * frame just below it when the site was named elsewhere) is a user write.
 * `null` otherwise: a site alone does not say what kind of event it was.
 */
export function causeFrom(a: TaintAttribution): TaintCause | null {
  if (!oneWriter(a)) return null; // the site is the earliest trap's, not necessarily the writer's
  const site = a.site ?? undefined;
  const userWrite =
    a.via === 'watchpoint' &&
    (/^proc_taint\b/.test(a.site ?? '') || a.stack.slice(0, 3).some((f) => /^proc_taint\b/.test(f)));
  if (userWrite) return Object.freeze({ kind: 'user-write' as const, ...(site ? { site } : {}) });
  return null;
}

/** Whether the environment turned attribution off for this process. */
export function attributionDisabledByEnv(env: NodeJS.ProcessEnv = process.env): boolean {
  const v = env[ATTRIBUTION_ENV];
  return v !== undefined && /^(off|0|false|no)$/i.test(v.trim());
}
