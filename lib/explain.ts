// explainTaint(): every set bit with its evidence — the kernel log from the
// start of its ring, the module list, and what is built in. Reads only; never
// blocks (the log is opened O_NONBLOCK and read until EAGAIN) and never writes
// /dev/kmsg.
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { stateOf } from './decode.js';
import { KMSG_PATH } from './defaults.js';
import { invalidArg } from './errors.js';
import { type ProfileTable, profileTable } from './flags.js';
import { callerTid, type KmsgRecord, kmsgLineCause, parseKmsgRecord, parseTaskLine } from './kmsg-cause.js';
import { type ModuleTaint, readModuleTaints } from './modules.js';
import { detectProfile, resolveProfile } from './profiles.js';
import { readTaintValue, TAINT_PATH } from './read.js';
import type { Profile, TaintCause, TaintEvidence, TaintExplanation, TaintFlag } from './types.js';

export { KMSG_PATH };
/** The most log bytes one explanation reads (a 32 MiB ring is the largest common `log_buf_len`). */
export const MAX_LOG_BYTES = 64 * 1024 * 1024;
/** Longest record line kept when reading a file; longer lines are skipped as garbage. */
const MAX_RECORD = 64 * 1024;
/** Records after a WARN/oops header that may name its task (`CPU: 0 PID: 1 Comm: x`) or site (`RIP:`). */
const FOLLOW_UP = 12;

export interface ExplainTaintOptions {
  /** File to read instead of /proc/sys/kernel/tainted. */
  path?: string;
  /** Flag table; `auto` (default) detects the running system's. */
  profile?: Profile;
  /** Kernel log in `/dev/kmsg` record format (default `/dev/kmsg`): the device, or a file of records. */
  kmsgPath?: string;
  /** @internal Test-only: directory to read instead of /sys/module. */
  _sysModuleDir?: string;
  /** @internal Test-only: file to read instead of /proc/modules. */
  _procModulesPath?: string;
  /** @internal Test-only: the wall-clock time of boot, ms since the epoch. */
  _bootTime?: number;
  /** @internal Test-only: read at most this many log bytes. */
  _maxLogBytes?: number;
}

/** What a log scan found. */
export interface LogScan {
  /** Whether the log could be opened and read. */
  readonly readable: boolean;
  /** Why not (errno code), when unreadable. */
  readonly error: NodeJS.ErrnoException | null;
  readonly records: number;
  /** Lines that were not records (garbage, oversized) and were skipped. */
  readonly skipped: number;
  /** The oldest record read: its sequence number and seconds after boot. */
  readonly first: { seq: number; sinceBoot: number } | null;
  /** EPIPE: the ring wrapped past the reader while it read. */
  readonly overrun: boolean;
  /** Stopped at the byte bound before the end of the log. */
  readonly truncated: boolean;
  /** Stopped early: every wanted flag was found. */
  readonly complete: boolean;
}

type RecordSink = (record: KmsgRecord) => boolean;

function emptyScan(error: NodeJS.ErrnoException | null): LogScan {
  return {
    readable: error === null,
    error,
    records: 0,
    skipped: 0,
    first: null,
    overrun: false,
    truncated: false,
    complete: error === null,
  };
}

/**
 * @internal The one reader of kernel log records, shared by `scanKernelLog`
 * (explainTaint, the journal, the CLI) and the watcher's `KmsgTail`. A
 * `/dev/kmsg` character device gives one record per `read()` (the record line,
 * then its ` KEY=value` dictionary lines) and keeps its own position; a
 * regular file or FIFO is read as lines of records from the descriptor's
 * offset. Opened O_NONBLOCK and read until EAGAIN or end of file: it never
 * blocks and never seeks to the end (the ring is read from its first record).
 * A line longer than 64 KiB is skipped to its end, a continuation line
 * (` KEY=value`) ignored, anything else that is not a record counted as
 * skipped.
 */
class KmsgReader {
  #fd: number | null;
  readonly #device: boolean;
  readonly #buf: Buffer;
  /** The start of a line whose end has not been read yet (files only). */
  #partial = '';
  /** Inside an oversized line: skip to its end. */
  #dropping = false;

  /** Throws the open error (ENOENT, EACCES, EPERM…); the callers turn it into a limit. */
  constructor(path: string) {
    // libuv adds O_CLOEXEC to every open.
    const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    let device = false;
    try {
      device = fstatSync(fd).isCharacterDevice();
    } catch {
      // fstat of an open descriptor does not fail in practice; read it as a file
    }
    this.#fd = fd;
    this.#device = device;
    // /dev/kmsg returns EINVAL when the buffer is smaller than the record
    // (at most ~8 KiB with its dictionary).
    this.#buf = Buffer.allocUnsafe(device ? 16 * 1024 : 64 * 1024);
  }

  /**
   * Reads what is there now (at most about `maxBytes`), calling `sink` for each
   * record; `sink` returns `true` to stop early. `atEnd`: the log will not grow
   * (a one-shot scan), so a last line without a newline is a record too.
   * Never throws for a read error: it is reported in the result.
   */
  read(sink: RecordSink, maxBytes: number, atEnd: boolean): LogScan {
    const fd = this.#fd;
    if (fd === null) return emptyScan(null);
    let records = 0;
    let skipped = 0;
    let first: LogScan['first'] = null;
    let overrun = false;
    let truncated = false;
    let complete = false;
    let error: NodeJS.ErrnoException | null = null;
    let bytes = 0;
    // One record line: parse and hand on. Returns true to stop.
    const onLine = (line: string): boolean => {
      if (line.length === 0 || line.charCodeAt(0) === 32) return false; // continuation " KEY=value"
      const r = parseKmsgRecord(line);
      if (r === null) {
        skipped++;
        return false;
      }
      records++;
      if (first === null) first = { seq: r.seq, sinceBoot: r.usec / 1e6 };
      return sink(r);
    };
    const buf = this.#buf;
    for (;;) {
      if (bytes >= maxBytes) {
        truncated = true;
        break;
      }
      let n: number;
      try {
        n = readSync(fd, buf, 0, buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') break; // drained
        if (code === 'EPIPE') {
          overrun = true; // the ring overwrote our position; the next read starts at the oldest record
          continue;
        }
        if (code === 'EINTR') continue;
        error = e as NodeJS.ErrnoException;
        break;
      }
      if (n === 0) break;
      bytes += n;
      if (this.#device) {
        // "prio,seq,usec,flags;text\n KEY=value\n…": the record is the first line.
        const nl = buf.indexOf(10);
        const end = nl === -1 || nl > n ? n : nl;
        if (onLine(buf.toString('utf8', 0, end))) {
          complete = true;
          break;
        }
        continue;
      }
      const chunk = buf.toString('utf8', 0, n);
      let start = 0;
      for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
        if (this.#dropping) {
          this.#dropping = false;
          skipped++;
          start = nl + 1;
          continue;
        }
        const line = this.#partial.length > 0 ? this.#partial + chunk.slice(start, nl) : chunk.slice(start, nl);
        this.#partial = '';
        start = nl + 1;
        if (onLine(line)) {
          complete = true;
          break;
        }
      }
      if (complete) {
        // Keep the unread rest for a later read (a tail reads on from here).
        if (start < chunk.length) this.#partial = chunk.slice(start);
        break;
      }
      if (!this.#dropping) {
        const rest = chunk.slice(start);
        if (this.#partial.length + rest.length > MAX_RECORD) {
          this.#partial = '';
          this.#dropping = true; // an oversized line: skip to its end
        } else {
          this.#partial += rest;
        }
      }
    }
    if (atEnd && !complete && !truncated && error === null) {
      if (this.#dropping) {
        this.#dropping = false;
        skipped++;
      } else if (this.#partial.length > 0) {
        const last = this.#partial;
        this.#partial = '';
        if (onLine(last)) complete = true;
      }
    }
    return { readable: error === null, error, records, skipped, first, overrun, truncated, complete };
  }

  close(): void {
    if (this.#fd === null) return;
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    this.#fd = null;
  }
}

/**
 * Reads a kernel log in `/dev/kmsg` record format from its first record,
 * calling `sink` for each; `sink` returns `true` to stop. A character device
 * is read one record per `read()` until EAGAIN (opened O_NONBLOCK, never
 * seeked to the end); a regular file or FIFO is read as lines of records.
 * Continuation lines (` KEY=value`) are skipped. Never throws for a read
 * error: it is reported in the result.
 */
export function scanKernelLog(path: string, sink: RecordSink, maxBytes = MAX_LOG_BYTES): LogScan {
  let reader: KmsgReader;
  try {
    reader = new KmsgReader(path);
  } catch (e) {
    return emptyScan(e as NodeJS.ErrnoException);
  }
  try {
    return reader.read(sink, maxBytes, true);
  } finally {
    reader.close();
  }
}

/**
 * @internal How a journal opened on a watcher asks it for the evidence of the
 * bits set at open (`watcher[START_EVIDENCE](flags)`): from the watcher's own
 * read of the ring at start, so that the pair reads it once. `Symbol.for`: the
 * journal and the watcher may be loaded from different bundles.
 */
export const START_EVIDENCE: unique symbol = Symbol.for('kernel-taint.startEvidence');

/** How many of the newest log records a watcher keeps to explain its next changes. */
export const TAIL_RECORDS = 2048;

const keepGoing: RecordSink = () => false;

/**
 * @internal What the first read of a watcher's log found: the evidence in the
 * whole ring of the bits set when the watcher started (and of the bits its
 * first reader asked for), kept so that everyone explaining the start state
 * (the initial report, a journal opened on the watcher) shares that one read.
 */
export interface StartRead {
  /** Evidence found in the log, by bit (never handed out: callers get copies). */
  readonly found: ReadonlyMap<number, TaintEvidence>;
  readonly scan: LogScan;
  /** The bits the read looked for. */
  readonly bits: ReadonlySet<number>;
}

/**
 * @internal A kernel log kept open by a watcher: each `poll()` reads only the
 * records logged since the last one (a `/dev/kmsg` descriptor keeps its own
 * position; a regular file is read on from its offset) and keeps the newest
 * `TAIL_RECORDS`. The first read, whoever makes it (the initial report, a
 * journal opened on the watcher, the watcher positioning the tail), reads the
 * ring from its start and explains on the way the bits set when the watcher
 * started (`start()`): the ring is read once at start. A later change is
 * explained from the kept records instead of the whole ring: a bit set after
 * the watcher started was logged after its first poll, or just before, while
 * the records are still in the window.
 */
export class KmsgTail {
  readonly #reader: KmsgReader;
  readonly #recent: KmsgRecord[] = [];
  readonly #startFlags: readonly TaintFlag[];
  #start: StartRead | null = null;
  #started = false;

  private constructor(reader: KmsgReader, startFlags: readonly TaintFlag[]) {
    this.#reader = reader;
    this.#startFlags = startFlags;
  }

  /**
   * Opens the log, or `null` when it cannot be read (the change then reads it the slow way and says why).
   * `startFlags`: the bits set when the watcher started, explained by the first read.
   */
  static open(path: string, startFlags: readonly TaintFlag[] = []): KmsgTail | null {
    try {
      return new KmsgTail(new KmsgReader(path), startFlags);
    } catch {
      return null;
    }
  }

  /** The newest records, oldest first. */
  get recent(): readonly KmsgRecord[] {
    return this.#recent;
  }

  /** Whether the ring was read yet (the first poll reads it from its first record). */
  get started(): boolean {
    return this.#started;
  }

  /**
   * The first read of the ring (from its first record, to its end): what it
   * found for the start bits and `also`. Made by the first caller (of this or
   * of `poll()`); later calls return what it found (`also` is then ignored:
   * see `bits`).
   */
  start(also: readonly TaintFlag[] = [], maxBytes = MAX_LOG_BYTES): StartRead {
    if (this.#start === null) {
      const want = [...this.#startFlags];
      for (const f of also) if (!want.some((w) => w.bit === f.bit)) want.push(f);
      const { found, scan } = evidenceFromLog(this, want, bootTimeMs(), maxBytes);
      this.#start = { found, scan, bits: new Set(want.map((f) => f.bit)) };
    }
    return this.#start;
  }

  /**
   * Reads what was logged since the last poll (at most `maxBytes`) and keeps
   * each record. The first poll is the start read (`start()`). Never blocks,
   * never throws.
   */
  poll(maxBytes = MAX_LOG_BYTES): LogScan {
    return this.#started ? this.read(keepGoing, maxBytes) : this.start([], maxBytes).scan;
  }

  /**
   * @internal The raw read behind `poll()` and `start()`: from the last
   * position to the end, keeping each record and handing it to `sink` as well
   * (whose answer is ignored: the tail always reads on to the end).
   */
  read(sink: RecordSink, maxBytes: number): LogScan {
    const recent = this.#recent;
    this.#started = true;
    return this.#reader.read(
      (r) => {
        recent.push(r);
        if (recent.length > TAIL_RECORDS * 2) recent.splice(0, recent.length - TAIL_RECORDS);
        sink(r);
        return false;
      },
      maxBytes,
      false,
    );
  }

  close(): void {
    this.#reader.close();
  }
}

/** Feeds already-read records to a sink as `scanKernelLog` would. */
function scanRecords(records: readonly KmsgRecord[], sink: RecordSink): LogScan {
  let first: LogScan['first'] = null;
  let n = 0;
  let complete = false;
  for (const r of records) {
    n++;
    if (first === null) first = { seq: r.seq, sinceBoot: r.usec / 1e6 };
    if (sink(r)) {
      complete = true;
      break;
    }
  }
  return { readable: true, error: null, records: n, skipped: 0, first, overrun: false, truncated: false, complete };
}

/** Wall-clock time of boot in ms since the epoch, on the clock printk stamps records with (monotonic). */
export function bootTimeMs(): number {
  // process.hrtime is CLOCK_MONOTONIC, the clock of /dev/kmsg timestamps
  // (both stop during suspend), so boot = now - monotonic.
  return Date.now() - Number(process.hrtime.bigint() / 1_000_000n);
}

function readSmall(path: string): string | null {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return null;
  }
}

/**
 * The plain-words reason the log could not be read. `dmesgRestrict` reads
 * `kernel.dmesg_restrict` (a parameter for the tests).
 */
export function logLimit(
  path: string,
  err: NodeJS.ErrnoException,
  dmesgRestrict: () => string | null = () => readSmall('/proc/sys/kernel/dmesg_restrict'),
): string {
  if (err.code === 'EPERM' || err.code === 'EACCES') {
    if (path === KMSG_PATH && dmesgRestrict() === '1') {
      return 'kernel log not readable: dmesg_restrict=1 and no CAP_SYSLOG';
    }
    return `kernel log not readable: ${err.code} opening ${path}`;
  }
  if (err.code === 'ENOENT') return `kernel log not available: ${path} does not exist`;
  return `kernel log not readable: ${err.code ?? 'error'} on ${path}`;
}

/** @internal What one flag needs: its mainline name (what log lines name) and bit. */
interface Wanted {
  readonly flag: TaintFlag;
  /** Mainline name: lines are matched by name, so vendor tables that move a bit still resolve. */
  readonly name: string;
}

/**
 * @internal Where log evidence comes from: a log to scan from its start (a
 * path), records already read (a watcher's recent records), or a watcher's
 * tail read on from its position (at start: the whole ring, once).
 */
export type LogInput = string | readonly KmsgRecord[] | KmsgTail;

/**
 * Each record's line cause, parsed once: a watcher's tail keeps its last records and each change scans
 * them again (under emulation, parsing ~4k records per change cost 16–21 ms). The cached value is never
 * mutated: evidence copies what it takes from it.
 */
const lineCauses = new WeakMap<KmsgRecord, ReturnType<typeof kmsgLineCause>>();
function recordCause(r: KmsgRecord): ReturnType<typeof kmsgLineCause> {
  let c = lineCauses.get(r);
  if (c === undefined) {
    c = kmsgLineCause(r.text, callerTid(r));
    lineCauses.set(r, c);
  }
  return c;
}

/** @internal Evidence found in the log for the flags of `want`, by bit: the one place records become causes. */
export function evidenceFromLog(
  log: LogInput,
  want: readonly TaintFlag[],
  bootMs: number,
  maxBytes = MAX_LOG_BYTES,
): { found: Map<number, TaintEvidence>; scan: LogScan } {
  const byName = new Map<string, Wanted>();
  for (const f of want) {
    if (f.known) byName.set(f.name, { flag: f, name: f.name });
  }
  const found = new Map<number, TaintEvidence>();
  // A WARN (old banner) or oops header is followed by "CPU: n PID: n Comm: x"
  // and "RIP: …": they name the task and site the header does not.
  let pending: { ev: TaintEvidence; left: number; pid: number | null } | null = null;
  let bugSite: { site: string; left: number } | null = null;
  const remaining = (): boolean => found.size < byName.size || pending !== null;
  const sink = (r: KmsgRecord): boolean => {
    const text = r.text;
    if (pending !== null) {
      const p = pending;
      const t = text.startsWith('CPU: ') ? parseTaskLine(text) : null;
      if (t && (p.pid === null || p.pid === t.pid)) {
        p.ev.actor = { kind: 'incidental', pid: null, tid: t.pid, comm: t.comm, via: 'kmsg' };
        if (p.ev.cause?.kind === 'warning') pending = null;
      } else if (text.startsWith('RIP: ') && p.ev.cause && p.ev.cause.site === undefined) {
        const colon = text.indexOf(':', 5);
        p.ev.cause.site = text.slice(colon === -1 ? 5 : colon + 1).trim();
        pending = null;
      } else if (--p.left <= 0) pending = null;
      if (pending === null && found.size >= byName.size) return true;
    }
    if (bugSite !== null && --bugSite.left < 0) bugSite = null;
    if (text.startsWith('kernel BUG at ') && text.endsWith('!')) bugSite = { site: text.slice(14, -1), left: 3 };
    const c = recordCause(r);
    if (c === null) return found.size >= byName.size && pending === null;
    for (const name of c.flags) {
      const w = byName.get(name);
      if (w === undefined || found.has(w.flag.bit)) continue;
      const sinceBoot = r.usec / 1e6;
      const cause: TaintCause = { ...c.cause, ...(c.cause.module ? { module: { ...c.cause.module } } : {}) };
      if (cause.kind === 'oops' && bugSite !== null && cause.site === undefined) cause.site = bugSite.site;
      const ev: TaintEvidence = {
        flag: w.flag,
        since: new Date(bootMs + r.usec / 1000),
        sinceBoot,
        cause,
        actor: c.actor ? { ...c.actor } : null,
        source: 'kmsg',
      };
      found.set(w.flag.bit, ev);
      if (cause.kind === 'oops' || (cause.kind === 'warning' && (ev.actor === null || ev.actor.comm === null))) {
        pending = { ev, left: FOLLOW_UP, pid: ev.actor?.tid ?? null };
      }
    }
    return !remaining();
  };
  let scan: LogScan;
  if (log instanceof KmsgTail) {
    // The tail reads on to the end of the ring whatever the sink says (it positions the watcher).
    let done = byName.size === 0;
    scan = log.read((r) => {
      if (!done) done = sink(r);
      return false;
    }, maxBytes);
  } else if (byName.size === 0) scan = emptyScan(null);
  else if (typeof log === 'string') scan = scanKernelLog(log, sink, maxBytes);
  else scan = scanRecords(log, sink);
  return { found, scan };
}

/** A copy of log evidence that its holder may change (combineEvidence completes the module). */
function copyEvidence(e: TaintEvidence): TaintEvidence {
  const cause = e.cause === null ? null : { ...e.cause, ...(e.cause.module ? { module: { ...e.cause.module } } : {}) };
  return {
    ...e,
    since: e.since === null ? null : new Date(e.since.getTime()),
    cause,
    actor: e.actor === null ? null : { ...e.actor },
  };
}

/**
 * @internal Evidence of `want` from a watcher's start read (made now when
 * nobody made it yet): the ring is read from its start once, whoever asks
 * first. Bits the start read did not look for (set after the watcher
 * started) are looked for in the records kept since.
 */
export function startEvidence(
  tail: KmsgTail,
  want: readonly TaintFlag[],
  maxBytes = MAX_LOG_BYTES,
): { found: Map<number, TaintEvidence>; scan: LogScan } {
  const start = tail.start(want, maxBytes);
  const found = new Map<number, TaintEvidence>();
  for (const f of want) {
    const e = start.found.get(f.bit);
    if (e !== undefined) found.set(f.bit, { ...copyEvidence(e), flag: f });
  }
  const rest = want.filter((f) => !start.bits.has(f.bit));
  if (rest.length > 0) {
    tail.poll(maxBytes);
    for (const [bit, e] of evidenceFromLog(tail.recent, rest, bootTimeMs()).found) found.set(bit, e);
  }
  return { found, scan: start.scan };
}

/** The module-side properties of a module that carries a bit: from its letters. */
export function moduleCause(m: ModuleTaint, fromLog?: TaintCause['module']): NonNullable<TaintCause['module']> {
  const out: NonNullable<TaintCause['module']> = { name: m.name, letters: m.letters };
  if (fromLog?.license !== undefined) out.license = fromLog.license;
  out.intree = !m.letters.includes('O');
  if (m.letters.includes('E')) out.signed = false;
  return out;
}

/** @internal Merges log evidence with the module list and built-in knowledge into one evidence per flag. */
export function combineEvidence(
  flags: readonly TaintFlag[],
  logFound: ReadonlyMap<number, TaintEvidence>,
  modules: readonly ModuleTaint[],
  table: ProfileTable,
  bootMs: number,
): TaintEvidence[] {
  return flags.map((flag): TaintEvidence => {
    const log = logFound.get(flag.bit);
    const carriers = flag.module ? modules.filter((m) => m.flags.some((f) => f.bit === flag.bit)) : [];
    if (log) {
      // The log names the module that set it; the module list adds its letters.
      const named = log.cause?.module;
      if (named !== undefined) {
        const loaded = modules.find((m) => m.name === named.name);
        if (loaded && log.cause) log.cause.module = { ...moduleCause(loaded, named), ...pickDefined(named) };
      }
      return log;
    }
    if (flag.name === 'RANDSTRUCT' && table.byBit.get(flag.bit)?.name === 'RANDSTRUCT') {
      return {
        flag,
        since: new Date(bootMs),
        sinceBoot: 0,
        cause: { kind: 'built-in' },
        actor: null,
        source: 'built-in',
      };
    }
    if (carriers.length > 0) {
      const cause: TaintCause = { kind: 'module' };
      // The first module to set a bit is not recorded here: name it only when it is the one carrier.
      if (carriers.length === 1) cause.module = moduleCause(carriers[0]);
      return { flag, since: null, sinceBoot: null, cause, actor: null, source: 'modules' };
    }
    return { flag, since: null, sinceBoot: null, cause: null, actor: null, source: flag.module ? 'modules' : 'kmsg' };
  });
}

function pickDefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v !== undefined && v !== '') (out as Record<string, unknown>)[k] = v;
  }
  return out;
}

function size(bytes: number): string {
  return bytes >= 1048576 ? `${Math.round(bytes / 1048576)} MiB` : `${Math.round(bytes / 1024)} KiB`;
}

/** @internal Explains the given flags; shared by explainTaint, the watcher and the journal. */
export function explainFlags(
  flags: readonly TaintFlag[],
  table: ProfileTable,
  opts: {
    kmsgPath: string | null;
    /**
     * Read this instead of `kmsgPath` (named in limits): records already read
     * (a watcher's recent records), or a watcher's tail, whose start read (the
     * whole ring, once, shared) explains the flags (`startEvidence`).
     */
    log?: readonly KmsgRecord[] | KmsgTail;
    sysModuleDir?: string;
    procModulesPath?: string;
    bootMs?: number;
    maxLogBytes?: number;
  },
): { bits: TaintEvidence[]; limits: string[] } {
  const limits: string[] = [];
  const bootMs = opts.bootMs ?? bootTimeMs();
  let found = new Map<number, TaintEvidence>();
  if (flags.length > 0 && opts.kmsgPath !== null) {
    const r =
      opts.log instanceof KmsgTail
        ? startEvidence(opts.log, flags, opts.maxLogBytes)
        : evidenceFromLog(opts.log ?? opts.kmsgPath, flags, bootMs, opts.maxLogBytes);
    found = r.found;
    const s = r.scan;
    if (s.error !== null) limits.push(logLimit(opts.kmsgPath, s.error));
    else {
      const unexplained = flags.some((f) => !found.has(f.bit));
      // Only a read from the start of the ring knows where the ring starts (not the recent records).
      const fromStart = opts.log === undefined || opts.log instanceof KmsgTail;
      if (unexplained && fromStart && s.first !== null && s.first.seq > 0) {
        limits.push(`the log ring no longer reaches back to boot: oldest record at ${Math.round(s.first.sinceBoot)} s`);
      }
      if (unexplained && s.records === 0) limits.push('the kernel log is empty');
      if (s.overrun) limits.push('the kernel log wrapped while it was read: records were lost');
      if (s.truncated) limits.push(`read only the first ${size(opts.maxLogBytes ?? MAX_LOG_BYTES)} of the kernel log`);
      if (s.skipped > 0)
        limits.push(`${s.skipped} line(s) of ${opts.kmsgPath} are not kernel log records and were skipped`);
    }
  }
  const needModules = flags.some((f) => f.module);
  const modules = needModules
    ? readModuleTaints({
        profile: table.id,
        ...(opts.sysModuleDir !== undefined ? { _sysModuleDir: opts.sysModuleDir } : {}),
        ...(opts.procModulesPath !== undefined ? { _procModulesPath: opts.procModulesPath } : {}),
      })
    : [];
  const bits = combineEvidence(flags, found, modules, table, bootMs);
  const unknown = bits.filter((b) => b.cause === null).map((b) => b.flag.letter);
  if (unknown.length > 0) limits.push(`no log record or loaded module explains ${unknown.join(' ')}`);
  return { bits, limits };
}

/**
 * Explains every set taint bit: when it was set, why, and by whom where the
 * kernel recorded it. Reads the taint value, the module list
 * (`/proc/modules`, else `/sys/module/<name>/taint`) and, where readable, the
 * whole kernel log ring from its first record (`/dev/kmsg`, needs CAP_SYSLOG
 * or `dmesg_restrict=0`; non-blocking, at most 64 MiB). The first log record
 * that explains a bit wins (a bit is set once per boot). `limits` says in
 * plain words what could not be known and why. `actor` is filled only from
 * what a log line names, never guessed.
 *
 * Throws what `readTaintValue()` throws for the value; an unreadable log or
 * module list is a limit, not an error.
 *
 * @example
 * const { bits, limits } = explainTaint();
 * for (const b of bits) console.log(b.flag.letter, b.cause?.kind, b.cause?.site ?? b.cause?.module?.name, b.since);
 * // W warning mm/slub.c:123 2026-12-02T05:01:02.345Z
 */
export function explainTaint(opts: ExplainTaintOptions = {}): TaintExplanation {
  if (typeof opts !== 'object' || opts === null) throw invalidArg('explainTaint options must be an object');
  const { path, kmsgPath } = opts;
  if (path !== undefined && (typeof path !== 'string' || path.length === 0)) {
    throw invalidArg('path must be a non-empty string');
  }
  if (kmsgPath !== undefined && (typeof kmsgPath !== 'string' || kmsgPath.length === 0)) {
    throw invalidArg('kmsgPath must be a non-empty string');
  }
  const table = profileTable(resolveProfile(opts.profile, detectProfile));
  const state = stateOf(readTaintValue(path === undefined ? undefined : { path }), table);
  const { bits, limits } = explainFlags(state.flags, table, {
    kmsgPath: kmsgPath ?? KMSG_PATH,
    ...(opts._sysModuleDir !== undefined ? { sysModuleDir: opts._sysModuleDir } : {}),
    ...(opts._procModulesPath !== undefined ? { procModulesPath: opts._procModulesPath } : {}),
    ...(opts._bootTime !== undefined ? { bootMs: opts._bootTime } : {}),
    ...(opts._maxLogBytes !== undefined ? { maxLogBytes: opts._maxLogBytes } : {}),
  });
  if (path !== undefined && path !== TAINT_PATH && kmsgPath === undefined && state.tainted) {
    limits.push(`the value was read from ${path}; the kernel log explains the running kernel`);
  }
  return { state, bits, limits };
}

/** @internal What the watcher knows about a change, for its evidence. */
export interface ChangeContext {
  readonly initial: boolean;
  /** The change's kmsg line (`TaintChange.kmsg`). */
  readonly kmsg: string | null;
  readonly time: Date;
  /** The log to read (`null`: the watched file is not the running kernel's, or the caller opted out). */
  readonly kmsgPath: string | null;
  /**
   * The watcher's open log. Not read yet: this change reads the ring once,
   * from its start, through it (the evidence of the initial report, and the
   * tail positioned at the end). Already read: it reads on from its last poll
   * and the change is explained from its recent records. Absent: read
   * `kmsgPath` whole.
   */
  readonly tail?: KmsgTail | null;
  readonly sysModuleDir?: string;
  readonly procModulesPath?: string;
}

/**
 * @internal One evidence per added flag of a watcher's change. The initial
 * report is explained like `explainTaint()` (the log from its start, the
 * modules). A later change takes the first log record for each new bit, else
 * the kmsg line that preceded the change, else the loaded modules; `since` is
 * the log time when a record was found, else the time the watcher saw it.
 */
export function changeEvidence(added: readonly TaintFlag[], table: ProfileTable, ctx: ChangeContext): TaintEvidence[] {
  if (added.length === 0) return [];
  const tail = ctx.tail ?? null;
  let log: KmsgTail | readonly KmsgRecord[] | undefined;
  if (tail !== null && ctx.kmsgPath !== null) {
    if (ctx.initial || !tail.started) log = tail;
    else {
      tail.poll();
      log = tail.recent;
    }
  }
  const { bits } = explainFlags(added, table, {
    kmsgPath: ctx.kmsgPath,
    ...(log !== undefined ? { log } : {}),
    ...(ctx.sysModuleDir !== undefined ? { sysModuleDir: ctx.sysModuleDir } : {}),
    ...(ctx.procModulesPath !== undefined ? { procModulesPath: ctx.procModulesPath } : {}),
  });
  // Set before the watcher started: nothing explained it, the watcher saw it at start (time unknown).
  if (ctx.initial) return bits.map((b) => (b.cause === null ? { ...b, source: 'watch' } : b));
  const line = ctx.kmsg === null ? null : kmsgLineCause(ctx.kmsg);
  const sinceBoot = Number(process.hrtime.bigint() / 1000n) / 1e6;
  return bits.map((b): TaintEvidence => {
    if (b.source === 'kmsg' && b.cause !== null) return b;
    if (line?.flags.includes(b.flag.name)) {
      return {
        flag: b.flag,
        since: ctx.time,
        sinceBoot,
        cause: { ...line.cause },
        actor: line.actor ? { ...line.actor } : null,
        source: 'watch',
      };
    }
    if (b.cause !== null) return { ...b, since: b.since ?? ctx.time, sinceBoot: b.sinceBoot ?? sinceBoot };
    return { ...b, since: ctx.time, sinceBoot, source: 'watch' };
  });
}
