// The audit journal: one JSON line per taint bit going from clear to set,
// once per boot. Crash safety comes from three rules:
//   1. a record is one write() of one complete line on an O_APPEND descriptor,
//      followed by fsync(), and only then counted in memory;
//   2. on open, a torn last line (power loss, full disk) is cut off, and the
//      records already there say which bits of this boot are recorded;
//   3. the bits set at open that this boot has no record of are recorded then
//      (`observedAt: 'start'`), so a bit whose record was lost to a kill
//      between the taint and the write is still recorded exactly once.
// flock(LOCK_EX | LOCK_NB) on the journal's own descriptor keeps a second
// writer out (seq would otherwise repeat), whatever name, link or PID
// namespace it comes through; `<file>.lock` only names the holder.
import { EventEmitter } from 'node:events';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname } from 'node:path';
import { native } from '../binding.js';
import { describeValue, KernelTaintError, systemError, type TaintError } from '../errors.js';
import { changeEvidence, KMSG_PATH, START_EVIDENCE } from '../explain.js';
import { profileTable } from '../flags.js';
import { type ModuleTaint, readModuleTaints } from '../modules.js';
import { readTaint } from '../read.js';
import type { Profile, TaintActor, TaintCategory, TaintCause, TaintEvidence, TaintFlag, TaintState } from '../types.js';
import { createExclusive, fsyncDir, readBootId } from './boot.js';
import { assertSource, type SourceChange, type TaintSource } from './source.js';

/** The standard audit quartet. Taint events have no success/failure axis: the middle two act as `enabled`. */
export type JournalMode = 'enabled' | 'success-only' | 'failure-only' | 'disabled';

/** Environment variable read when no mode is given. */
export const JOURNAL_MODE_ENV = 'KERNEL_TAINT_JOURNAL';

const MODES: readonly JournalMode[] = ['enabled', 'success-only', 'failure-only', 'disabled'];

/**
 * Validates a journal mode (from options, the environment or the CLI).
 *
 * @example
 * parseJournalMode(process.env.KERNEL_TAINT_JOURNAL ?? 'enabled'); // 'enabled'
 */
export function parseJournalMode(value: string, where = 'journal mode'): JournalMode {
  if ((MODES as readonly string[]).includes(value)) return value as JournalMode;
  throw new KernelTaintError(
    'ERR_KERNEL_TAINT_INVALID_ARG',
    `${where} must be one of ${MODES.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

/** A module carrying a recorded bit, with what can be read about it. */
export interface JournalModule {
  readonly name: string;
  /** The module's taint letters (`"POE"`). */
  readonly letters: string;
  /** From the letters: `P` means a non-GPL-compatible licence. */
  readonly license: 'proprietary' | 'gpl-compatible';
  /** From the letters: `O` means built out of tree. */
  readonly intree: boolean;
  /** `false` with `E`; `true` when the kernel checks signatures and `E` is absent; `null` when unknown. */
  readonly signed: boolean | null;
  /** `/sys/module/<name>/version`, where readable. */
  readonly version: string | null;
  /** `/sys/module/<name>/srcversion`, where readable. */
  readonly srcversion: string | null;
}

/** What set a recorded bit, as far as it is known. */
export interface JournalTrigger {
  /**
   * `module` when loaded modules carry the bit, `kmsg` when a kernel log line
   * preceded it, else what woke the watcher (`inotify`, `uevent`, `counter`,
   * `poll`) or `start` for bits found set when the journal opened.
   */
  readonly kind: string;
  /** What woke the read (`start` for bits found set at open). */
  readonly via: string;
  /** Modules that carry the bit (module-related bits only). */
  readonly modules?: readonly JournalModule[];
  /**
   * The kernel log line that preceded the change (the watcher's `TaintChange.kmsg`), for bits no
   * module carries: `WARNING: CPU: 1 PID: 42 at mm/slub.c:123 ...` (or the newer
   * `WARNING: mm/slub.c:123 at kfree+0x1/0x2, CPU#1: comm/42`), `Machine check events logged`.
   */
  readonly line?: string;
}

/** One line of the journal. */
export interface JournalRecord {
  /** 1, 2, 3... across restarts and boots, no gaps. */
  readonly seq: number;
  /** ISO 8601 time of the record. */
  readonly time: string;
  readonly bootId: string | null;
  readonly bit: number;
  readonly letter: string;
  readonly name: string;
  readonly category: TaintCategory;
  /** `start` for bits already set when the journal opened on this boot, else `change`. */
  readonly observedAt: 'start' | 'change';
  readonly trigger: JournalTrigger;
  /** Who set it, as the kernel recorded it (`TaintEvidence.actor`); `null` otherwise (never guessed). */
  readonly actor: TaintActor | null;
  /** Why it was set (`TaintEvidence.cause`): module and properties, WARN site, log line; `null` when unknown. */
  readonly cause: TaintCause | null;
  /** ISO time the bit was set, from its kernel log record (else when it was seen); `null` when unknown. */
  readonly since: string | null;
}

/** Options of `openTaintJournal`. */
export interface TaintJournalOptions {
  /** Default: `$KERNEL_TAINT_JOURNAL`, else `enabled`. `disabled` records nothing and creates no file. */
  mode?: JournalMode;
  /** Environment to read the mode from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /**
   * A watcher (or any source): its changes are recorded. A watcher also
   * explains the bits set at open, from its own read of the kernel log at
   * start (see `kmsgPath`).
   */
  source?: TaintSource;
  /** The state at open (default: the source's `current`, else a read of `path`). */
  state?: TaintState;
  /** File to read at open when there is neither `state` nor a ready source. */
  path?: string;
  profile?: Profile;
  /** Overrides /proc/sys/kernel/random/boot_id (tests). */
  bootIdPath?: string;
  /**
   * Kernel log (`/dev/kmsg` records) read for the evidence of bits set at
   * open. Default: with a watcher as `source` (and no `state`), the
   * watcher's own log, read once at start for both (the records of bits set
   * at open get the evidence of its initial report, whichever of the two
   * reads first); else `/dev/kmsg` when the journal reads the running
   * kernel's value itself (neither `state` nor `path` given). `null` reads no
   * log. A path given here is read by the journal itself, a second read.
   */
  kmsgPath?: string | null;
  /** Permission bits of a journal this call creates (default `0o600`: it holds kernel log lines). */
  fileMode?: number;
  /** Open the journal through a symlink (default `false`: a symlink is refused, `O_NOFOLLOW`). */
  followSymlinks?: boolean;
  /** Records kept in memory while writes fail (disk full), retried in order (default 1024). */
  maxPending?: number;
  /** @internal Test-only: directory to read instead of /sys/module. */
  _sysModuleDir?: string;
}

/** A watcher's start evidence (`TaintWatcher[START_EVIDENCE]`), or `null` for a source without it. */
function startEvidenceOf(source: TaintSource | undefined): ((flags: readonly TaintFlag[]) => TaintEvidence[]) | null {
  const s = source as
    | (TaintSource & { [START_EVIDENCE]?: (flags: readonly TaintFlag[]) => TaintEvidence[] })
    | undefined;
  const fn = s?.[START_EVIDENCE];
  return typeof fn === 'function' ? (flags) => fn.call(s, flags) : null;
}

/** Largest journal opened (512 MiB): a bigger file is refused, not read into memory. */
export const MAX_JOURNAL_BYTES = 512 * 1024 * 1024;
/** Longest record line; a longer torn tail is not a torn record. */
const MAX_RECORD_BYTES = 64 * 1024;

/** What a change adds to a record besides the state. */
export interface ObserveInfo {
  /** What woke the read (a watcher's `trigger`). */
  trigger?: string;
  /** The kernel log line that preceded the change (a watcher's `kmsg`): the trigger of non-module bits. */
  kmsg?: string | null;
  /** Modules known to carry the new bits (default: read from /sys/module when a module bit is new). */
  modules?: readonly ModuleTaint[];
  /** Who caused the change, when known (used for bits without evidence of their own). */
  actor?: TaintActor | null;
  /** Per-bit evidence (a watcher's `TaintChange.evidence`); default: worked out from `kmsg`, the modules and, at open, the log. */
  evidence?: readonly TaintEvidence[];
  /** Boot id of the observation (default: read at once). */
  bootId?: string | null;
}

/** Events of a journal. */
export interface TaintJournalEvents {
  record: [record: JournalRecord];
  error: [err: TaintError];
}

/** What `readTaintJournal` returns. */
export interface JournalContents {
  readonly records: JournalRecord[];
  /** Bytes of an incomplete last line (a write cut short). */
  readonly tornBytes: number;
  /** Complete lines that are not journal records (skipped). */
  readonly skippedLines: number;
}

function isRecord(r: unknown): r is JournalRecord {
  const x = r as Partial<JournalRecord> | null;
  return (
    typeof x === 'object' &&
    x !== null &&
    Number.isSafeInteger(x.seq) &&
    (x.seq as number) >= 1 &&
    Number.isInteger(x.bit) &&
    (x.bit as number) >= 0 &&
    (x.bit as number) < 64 &&
    'bootId' in x &&
    (x.bootId === null || typeof x.bootId === 'string')
  );
}

interface Parsed extends JournalContents {
  committedLength: number;
  /** 1-based line number of the first complete line that is not a record. */
  firstBadLine: number | null;
  /** Records whose seq is not the previous one plus 1. */
  seqGaps: number;
}

function parseContents(text: string): Parsed {
  const end = text.lastIndexOf('\n') + 1;
  const records: JournalRecord[] = [];
  let skipped = 0;
  let firstBad: number | null = null;
  let gaps = 0;
  let lineNo = 0;
  for (const line of text.slice(0, end).split('\n')) {
    lineNo++;
    if (line.length === 0) continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch {
      r = undefined;
    }
    if (isRecord(r)) {
      const prev = records.at(-1);
      if (prev && r.seq !== prev.seq + 1) gaps++;
      records.push(r);
    } else {
      skipped++;
      firstBad ??= lineNo;
    }
  }
  return {
    records,
    tornBytes: Buffer.byteLength(text.slice(end)),
    skippedLines: skipped,
    committedLength: Buffer.byteLength(text.slice(0, end)),
    firstBadLine: firstBad,
    seqGaps: gaps,
  };
}

/** Whether bytes after the last newline can be the start of a record this module wrote. */
function looksLikeTornRecord(tail: string): boolean {
  return tail.length <= MAX_RECORD_BYTES && ('{"seq":'.startsWith(tail) || tail.startsWith('{"seq":'));
}

/**
 * Reads a journal file; a torn last line is reported, not returned.
 *
 * @example
 * const { records } = readTaintJournal('/var/log/kernel-taint.jsonl');
 * records.filter((r) => r.letter === 'W').map((r) => r.trigger.line);
 */
export function readTaintJournal(file: string): JournalContents {
  const size = statSync(file).size;
  if (size > MAX_JOURNAL_BYTES) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_JOURNAL_CORRUPT',
      `the journal ${file} is ${size} bytes, over the ${MAX_JOURNAL_BYTES}-byte limit`,
    );
  }
  const { records, tornBytes, skippedLines } = parseContents(readFileSync(file, 'utf8'));
  return { records, tornBytes, skippedLines };
}

// /proc/<pid>/stat field 22 is the start time in clock ticks since boot:
// together with the pid it names a process even after pid reuse.
function processStart(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // rest[0] is field 3 (state); field 22 is rest[19]. A zombie is dead.
    if (rest[0] === 'Z') return null;
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** The `<file>.lock` diagnostic: who holds the journal (the lock itself is flock on the journal). */
function writeHolder(lockFile: string): void {
  // Best effort: only a diagnostic, so a full disk or a read-only directory
  // must not keep the journal from opening.
  let tmp: { fd: number; path: string } | undefined;
  try {
    tmp = createExclusive(dirname(lockFile), basename(lockFile));
    try {
      writeSync(tmp.fd, `${process.pid} ${processStart(process.pid) ?? ''}\n`);
    } finally {
      closeSync(tmp.fd);
    }
    // rename replaces a planted file or symlink itself, never its target.
    renameSync(tmp.path, lockFile);
  } catch {
    if (tmp) {
      try {
        unlinkSync(tmp.path);
      } catch {
        // Gone.
      }
    }
  }
}

function holderOf(lockFile: string): string {
  try {
    const pid = Number(readFileSync(lockFile, 'utf8').trim().split(' ')[0]);
    return Number.isInteger(pid) && pid > 0 ? `process ${pid}` : 'another process';
  } catch {
    return 'another process';
  }
}

/** flock(LOCK_EX | LOCK_NB) on the journal's descriptor, or a coded error naming `file`. */
function lockJournal(fd: number, file: string, lockFile: string): void {
  const r = native().flock(fd, 'ex');
  if (r === 0) return;
  if (r.errno === 11 || r.errno === -11) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_JOURNAL_LOCKED',
      `the journal ${file} is open for writing in ${holderOf(lockFile)} (possibly through another name, link or PID namespace)`,
    );
  }
  throw systemError(r.errno, 'flock', file);
}

function readSmall(path: string): string | null {
  try {
    const s = readFileSync(path, 'utf8').trim();
    return s.length > 0 ? s : null;
  } catch {
    return null;
  }
}

function moduleProps(m: ModuleTaint, dir: string, sigChecked: boolean): JournalModule {
  return {
    name: m.name,
    letters: m.letters,
    license: m.letters.includes('P') ? 'proprietary' : 'gpl-compatible',
    intree: !m.letters.includes('O'),
    signed: m.letters.includes('E') ? false : sigChecked ? true : null,
    version: readSmall(`${dir}/${m.name}/version`),
    srcversion: readSmall(`${dir}/${m.name}/srcversion`),
  };
}

/**
 * An open journal (create it with `openTaintJournal`). Extends EventEmitter:
 * `'record'` after each record is on disk, `'error'` when a change of the
 * source could not be recorded (unhandled, it is thrown like any 'error').
 *
 * @example
 * const journal = openTaintJournal('/var/lib/myapp/taint.jsonl', { source: watcher });
 * journal.on('error', (e) => log.error(e));
 * await journal.close();
 */
export class TaintJournal extends EventEmitter<TaintJournalEvents> {
  /** The journal file. */
  readonly file: string;
  /** The effective mode. */
  readonly mode: JournalMode;
  /** What recovery found at open: records read, bytes of a torn last record cut, seq gaps kept as they are. */
  readonly recovered: {
    readonly records: number;
    readonly tornBytes: number;
    readonly skippedLines: number;
    readonly seqGaps: number;
  };
  #fd = -1;
  #size = 0;
  #seq = 0;
  #lockFile: string | null = null;
  /** Records not on disk yet (a write failed): retried in order, bounded. */
  readonly #pending: Array<Omit<JournalRecord, 'seq'>> = [];
  #dropped = 0;
  #lastError: Error | null = null;
  #retry: NodeJS.Timeout | null = null;
  readonly #recorded = new Map<string, Set<number>>();
  readonly #opts: TaintJournalOptions;
  #first = true;
  #closed: Promise<void> | null = null;
  readonly #onChange = (c: SourceChange) => {
    try {
      this.observe(c.current, {
        trigger: c.trigger,
        kmsg: c.kmsg ?? null,
        actor: c.actor ?? null,
        ...(c.evidence ? { evidence: c.evidence } : {}),
        ...(c.modules ? { modules: c.modules.carrying } : {}),
        ...(this.#opts.bootIdPath === undefined && c.bootId ? { bootId: c.bootId } : {}),
      });
    } catch (e) {
      this.emit('error', e as TaintError);
    }
  };

  /** @internal Use `openTaintJournal`. */
  constructor(file: string, opts: TaintJournalOptions, mode: JournalMode) {
    super();
    this.file = file;
    this.mode = mode;
    this.#opts = opts;
    if (mode === 'disabled') {
      this.recovered = { records: 0, tornBytes: 0, skippedLines: 0, seqGaps: 0 };
      return;
    }
    this.#lockFile = `${file}.lock`;
    const fileMode = opts.fileMode ?? 0o600;
    const nofollow = opts.followSymlinks ? 0 : constants.O_NOFOLLOW;
    let created = false;
    try {
      for (let attempt = 0; this.#fd < 0; attempt++) {
        try {
          this.#fd = openSync(file, constants.O_RDWR | constants.O_APPEND | nofollow);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === 'ELOOP' && !opts.followSymlinks) {
            throw Object.assign(e as Error, {
              message: `${(e as Error).message}: the journal is a symlink (pass followSymlinks: true to allow it)`,
            });
          }
          if (code !== 'ENOENT' || attempt > 4) throw e;
          try {
            this.#fd = openSync(
              file,
              constants.O_RDWR | constants.O_APPEND | constants.O_CREAT | constants.O_EXCL | nofollow,
              fileMode,
            );
            created = true;
          } catch (e2) {
            if ((e2 as NodeJS.ErrnoException).code !== 'EEXIST') throw e2;
          }
        }
      }
      const st = fstatSync(this.#fd);
      if (!st.isFile()) {
        throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', `the journal ${file} is not a regular file`);
      }
      lockJournal(this.#fd, file, this.#lockFile);
      if (created) fsyncDir(dirname(file));
      if (st.size > MAX_JOURNAL_BYTES) {
        throw new KernelTaintError(
          'ERR_KERNEL_TAINT_JOURNAL_CORRUPT',
          `the journal ${file} is ${st.size} bytes, over the ${MAX_JOURNAL_BYTES}-byte limit: rotate it`,
        );
      }
      const size = fstatSync(this.#fd).size;
      const buf = Buffer.alloc(size);
      let off = 0;
      while (off < size) {
        const n = readSync(this.#fd, buf, off, size - off, off);
        if (n === 0) break;
        off += n;
      }
      const text = buf.toString('utf8', 0, off);
      const contents = parseContents(text);
      if (contents.firstBadLine !== null) {
        throw new KernelTaintError(
          'ERR_KERNEL_TAINT_JOURNAL_CORRUPT',
          `${file} is not a kernel-taint journal: line ${contents.firstBadLine} is not a record (the file was left as it is)`,
        );
      }
      if (contents.tornBytes > 0) {
        const tail = text.slice(text.lastIndexOf('\n') + 1);
        if (!looksLikeTornRecord(tail)) {
          throw new KernelTaintError(
            'ERR_KERNEL_TAINT_JOURNAL_CORRUPT',
            `${file} is not a kernel-taint journal: its last ${contents.tornBytes} bytes are not a record (the file was left as it is)`,
          );
        }
        // An incomplete record was never committed (its write did not finish):
        // cut it so the next record starts on a line of its own.
        ftruncateSync(this.#fd, contents.committedLength);
        fsyncSync(this.#fd);
      }
      this.#size = contents.committedLength;
      for (const r of contents.records) {
        if (r.seq > this.#seq) this.#seq = r.seq;
        this.#mark(r.bootId, r.bit);
      }
      if (this.#seq >= Number.MAX_SAFE_INTEGER - 1) {
        throw new KernelTaintError(
          'ERR_KERNEL_TAINT_JOURNAL_CORRUPT',
          `${file}: seq ${this.#seq} leaves no room for a new record`,
        );
      }
      this.recovered = {
        records: contents.records.length,
        tornBytes: contents.tornBytes,
        skippedLines: contents.skippedLines,
        seqGaps: contents.seqGaps,
      };
      writeHolder(this.#lockFile);
    } catch (e) {
      this.#release(false);
      throw e;
    }
    const source = opts.source;
    let initial: TaintState | null | undefined = opts.state ?? source?.current;
    if (!initial && !source) {
      initial = readTaint({ ...(opts.path ? { path: opts.path } : {}), profile: opts.profile ?? 'auto' });
    }
    try {
      if (initial) this.observe(initial, { trigger: 'start' });
    } catch (e) {
      if (this.#pending.length === 0) {
        this.#release(true);
        throw e;
      }
      // A write failed (disk full): the records wait in memory and are retried;
      // the listener added right after open hears of it.
      process.nextTick(() => this.#fd >= 0 && this.emit('error', e as TaintError));
    }
    source?.on('change', this.#onChange);
  }

  /** Records waiting in memory because a write failed (retried in order). */
  get pending(): number {
    return this.#pending.length;
  }

  /** Records dropped because more than `maxPending` were waiting. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The last write error, `null` once everything waiting is on disk. */
  get lastError(): Error | null {
    return this.#lastError;
  }

  /** The last sequence number written (0 for an empty journal). */
  get seq(): number {
    return this.#seq;
  }

  #mark(bootId: string | null, bit: number): void {
    const key = bootId ?? '';
    let s = this.#recorded.get(key);
    if (!s) {
      s = new Set();
      this.#recorded.set(key, s);
    }
    s.add(bit);
  }

  #isRecorded(bootId: string | null, bit: number): boolean {
    return this.#recorded.get(bootId ?? '')?.has(bit) ?? false;
  }

  #append(line: string): void {
    const data = Buffer.from(line);
    let off = 0;
    try {
      while (off < data.length) off += writeSync(this.#fd, data, off, data.length - off);
    } catch (e) {
      // Leave no partial line behind for the next record to be glued to.
      try {
        ftruncateSync(this.#fd, this.#size);
      } catch {
        // Recovery at the next open cuts it.
      }
      throw e;
    }
    this.#size += data.length;
    fsyncSync(this.#fd);
  }

  /**
   * Records every bit set in `state` that this boot has no record of yet and
   * returns the new records (each on disk when this returns). Called for you
   * on each change of the source; call it yourself without a source.
   *
   * @example
   * journal.observe(readTaint(), { trigger: 'poll' });
   */
  observe(state: TaintState, info: ObserveInfo = {}): JournalRecord[] {
    if (this.mode === 'disabled') return [];
    if (this.#fd < 0) throw new KernelTaintError('ERR_KERNEL_TAINT_CLOSED', 'the journal is closed');
    const bootId = info.bootId !== undefined ? info.bootId : readBootId(this.#opts.bootIdPath);
    const startLike = this.#first || info.trigger === 'initial' || info.trigger === 'start';
    this.#first = false;
    const fresh = state.flags.filter((f) => !this.#isRecorded(bootId, f.bit));
    if (fresh.length === 0) return this.#pending.length > 0 ? this.#flush() : [];
    const via = info.trigger ?? (startLike ? 'start' : 'unknown');
    let modules: readonly ModuleTaint[] | null = info.modules ?? null;
    const dir = this.#opts._sysModuleDir ?? '/sys/module';
    if (modules === null && fresh.some((f) => f.module)) {
      // The package's one module list: /proc/modules first unless a test names a sysfs tree.
      const src = this.#opts._sysModuleDir !== undefined ? { _sysModuleDir: dir } : {};
      modules = readModuleTaints({ profile: state.profile, ...src });
    }
    const sigChecked = readSmall(`${dir}/module/parameters/sig_enforce`) !== null;
    const o = this.#opts;
    const log =
      o.kmsgPath !== undefined ? o.kmsgPath : o.state === undefined && o.path === undefined ? KMSG_PATH : null;
    // A watcher's change carries the evidence of the bits it added; fresh bits it does not cover (set
    // before the journal saw any value) are explained here, at start from the log.
    const given = info.evidence ?? [];
    const missing = fresh.filter((f) => !given.some((e) => e.flag.bit === f.bit));
    // At start, a watcher source explains the bits from its own read of the ring at start (the one its
    // initial report uses): the pair reads the ring once. Not when this journal was told its state or log.
    const fromSource =
      startLike && o.state === undefined && o.kmsgPath === undefined ? startEvidenceOf(o.source) : null;
    const evidence =
      missing.length === 0
        ? given
        : [
            ...given,
            ...(fromSource !== null
              ? fromSource(missing)
              : changeEvidence(missing, profileTable(state.profile), {
                  initial: startLike,
                  kmsg: info.evidence === undefined ? (info.kmsg ?? null) : null,
                  time: new Date(),
                  kmsgPath: startLike ? log : null,
                  sysModuleDir: dir,
                })),
          ];
    const max = this.#opts.maxPending ?? 1024;
    for (const f of fresh) {
      const ev = evidence.find((e) => e.flag.bit === f.bit);
      const carriers = f.module ? (modules ?? []).filter((m) => m.letters.includes(f.letter)) : [];
      let trigger: JournalTrigger;
      if (carriers.length > 0) {
        trigger = { kind: 'module', via, modules: carriers.map((m) => moduleProps(m, dir, sigChecked)) };
      } else if (info.kmsg) {
        // No module carries it: the log line names the subsystem (WARN site, MCE...).
        trigger = { kind: 'kmsg', via, line: info.kmsg };
      } else {
        trigger = { kind: via, via };
      }
      if (this.#pending.length >= max) {
        this.#dropped++;
        continue;
      }
      this.#pending.push({
        time: new Date().toISOString(),
        bootId,
        bit: f.bit,
        letter: f.letter,
        name: f.name,
        category: f.category,
        observedAt: startLike ? 'start' : 'change',
        trigger,
        actor: ev?.actor ?? info.actor ?? null,
        cause: ev?.cause ?? null,
        since: ev?.since ? ev.since.toISOString() : null,
      });
      this.#mark(bootId, f.bit);
    }
    return this.#flush();
  }

  /** Writes what is pending, in order; on a failure keeps the rest, schedules a retry and throws. */
  #flush(): JournalRecord[] {
    const out: JournalRecord[] = [];
    while (this.#pending.length > 0 && this.#fd >= 0) {
      const record = { seq: this.#seq + 1, ...this.#pending[0] } as JournalRecord;
      try {
        this.#append(`${JSON.stringify(record)}\n`);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        if (typeof err.path !== 'string') err.path = this.file;
        this.#lastError = err;
        if (!this.#retry) {
          this.#retry = setInterval(() => {
            try {
              this.#flush();
            } catch {
              // Still failing: reported already; retried again.
            }
          }, 1000);
          this.#retry.unref();
        }
        throw err;
      }
      this.#pending.shift();
      this.#seq = record.seq;
      out.push(record);
    }
    if (this.#pending.length === 0) {
      this.#lastError = null;
      if (this.#retry) clearInterval(this.#retry);
      this.#retry = null;
    }
    for (const r of out) this.emit('record', r);
    return out;
  }

  #release(ownHolderFile: boolean): void {
    if (this.#retry) clearInterval(this.#retry);
    this.#retry = null;
    if (this.#lockFile && ownHolderFile) {
      // The holder file is ours only while we hold the lock: remove it first.
      try {
        if (readFileSync(this.#lockFile, 'utf8').startsWith(`${process.pid} `)) unlinkSync(this.#lockFile);
      } catch {
        // Already gone.
      }
    }
    this.#lockFile = null;
    if (this.#fd >= 0) {
      // Closing the descriptor drops the flock.
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }

  /**
   * Stops listening, writes what is pending if it can, closes the file and
   * releases the lock. Rejects (after releasing) when records could not be
   * written. Idempotent: returns the same promise.
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#opts.source?.off('change', this.#onChange);
      let lost: Error | null = null;
      if (this.#pending.length > 0) {
        try {
          this.#flush();
        } catch (e) {
          lost = new KernelTaintError(
            'ERR_KERNEL_TAINT_JOURNAL_WRITE',
            `${this.#pending.length} journal record(s) could not be written to ${this.file}: ${(e as Error).message}`,
            { cause: e },
          );
        }
      }
      this.#release(true);
      if (lost) throw lost;
    })();
    return this.#closed;
  }
}

/**
 * Opens (or creates) an audit journal: one JSON line per taint bit going from
 * clear to set, once per boot (keyed by boot_id), with a `seq` that keeps
 * counting across restarts. Bits already set when it first opens on a boot
 * are recorded once with `observedAt: 'start'`. Each record is appended with
 * `O_APPEND` and fsynced; a torn last line is cut on open. One writer per file
 * (a `<file>.lock` names it); a second one gets `ERR_KERNEL_TAINT_JOURNAL_LOCKED`.
 *
 * @example
 * const watcher = watchTaint();
 * const journal = openTaintJournal('/var/lib/myapp/taint.jsonl', { source: watcher });
 * journal.on('record', (r) => log.warn(`kernel tainted: ${r.letter} ${r.name} via ${r.trigger.kind}`));
 */
export function openTaintJournal(file: string, opts: TaintJournalOptions = {}): TaintJournal {
  if (typeof file !== 'string' || file.length === 0 || file.includes('\0')) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `journal file must be a non-empty string without NUL, got ${describeValue(file)}`,
    );
  }
  if (typeof opts !== 'object' || opts === null) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `journal options must be an object, got ${describeValue(opts)}`,
    );
  }
  const fm = opts.fileMode;
  if (fm !== undefined && (!Number.isInteger(fm) || fm < 0 || fm > 0o777)) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `fileMode must be permission bits 0-0o777, got ${describeValue(fm)}`,
    );
  }
  const mp = opts.maxPending;
  if (mp !== undefined && (!Number.isInteger(mp) || mp < 1)) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `maxPending must be a positive integer, got ${describeValue(mp)}`,
    );
  }
  if (opts.source !== undefined) assertSource(opts.source, 'openTaintJournal: source');
  const env = opts.env ?? process.env;
  const fromEnv = env[JOURNAL_MODE_ENV];
  const mode =
    opts.mode !== undefined
      ? parseJournalMode(opts.mode)
      : fromEnv !== undefined && fromEnv !== ''
        ? parseJournalMode(fromEnv, JOURNAL_MODE_ENV)
        : 'enabled';
  return new TaintJournal(file, opts, mode);
}
