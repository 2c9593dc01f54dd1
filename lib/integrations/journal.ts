// The audit journal: one JSON line per taint bit going from clear to set,
// once per boot. Crash safety comes from three rules:
//   1. a record is one write() of one complete line on an O_APPEND descriptor,
//      followed by fsync(), and only then counted in memory;
//   2. on open, a torn last line (power loss, full disk) is cut off, and the
//      records already there say which bits of this boot are recorded;
//   3. the bits set at open that this boot has no record of are recorded then
//      (`observedAt: 'start'`), so a bit whose record was lost to a kill
//      between the taint and the write is still recorded exactly once.
// A lock file keeps a second writer out (seq would otherwise repeat).
import { EventEmitter } from 'node:events';
import {
  closeSync,
  constants,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  linkSync,
  openSync,
  readFileSync,
  readSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { KernelTaintError } from '../errors.js';
import { type ModuleTaint, readModuleTaints } from '../modules.js';
import { readTaint } from '../read.js';
import type { Profile, TaintActor, TaintCategory, TaintState } from '../types.js';
import { fsyncDir, readBootId } from './boot.js';
import type { SourceChange, TaintSource } from './source.js';

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
   * module carries: `WARNING: CPU: 1 PID: 42 at mm/slub.c:123 ...`, `Machine check events logged`.
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
  /** Who set it, as the kernel reported it (a watcher's `actor`); `null` otherwise (never guessed). */
  readonly actor: TaintActor | null;
}

/** Options of `openTaintJournal`. */
export interface TaintJournalOptions {
  /** Default: `$KERNEL_TAINT_JOURNAL`, else `enabled`. `disabled` records nothing and creates no file. */
  mode?: JournalMode;
  /** Environment to read the mode from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** A watcher (or any source): its changes are recorded. */
  source?: TaintSource;
  /** The state at open (default: the source's `current`, else a read of `path`). */
  state?: TaintState;
  /** File to read at open when there is neither `state` nor a ready source. */
  path?: string;
  profile?: Profile;
  /** Overrides /proc/sys/kernel/random/boot_id (tests). */
  bootIdPath?: string;
  /** @internal Test-only: directory to read instead of /sys/module. */
  _sysModuleDir?: string;
}

/** What a change adds to a record besides the state. */
export interface ObserveInfo {
  /** What woke the read (a watcher's `trigger`). */
  trigger?: string;
  /** The kernel log line that preceded the change (a watcher's `kmsg`): the trigger of non-module bits. */
  kmsg?: string | null;
  /** Modules known to carry the new bits (default: read from /sys/module when a module bit is new). */
  modules?: readonly ModuleTaint[];
  actor?: TaintActor | null;
  /** Boot id of the observation (default: read at once). */
  bootId?: string | null;
}

/** Events of a journal. */
export interface TaintJournalEvents {
  record: [record: JournalRecord];
  error: [err: Error];
}

/** What `readTaintJournal` returns. */
export interface JournalContents {
  readonly records: JournalRecord[];
  /** Bytes of an incomplete last line (a write cut short). */
  readonly tornBytes: number;
  /** Complete lines that are not journal records (skipped). */
  readonly skippedLines: number;
}

function parseContents(text: string): JournalContents & { committedLength: number } {
  const end = text.lastIndexOf('\n') + 1;
  const records: JournalRecord[] = [];
  let skipped = 0;
  for (const line of text.slice(0, end).split('\n')) {
    if (line.length === 0) continue;
    try {
      const r = JSON.parse(line) as JournalRecord;
      if (typeof r.seq === 'number' && typeof r.bit === 'number' && 'bootId' in r) records.push(r);
      else skipped++;
    } catch {
      skipped++;
    }
  }
  return {
    records,
    tornBytes: Buffer.byteLength(text.slice(end)),
    skippedLines: skipped,
    committedLength: Buffer.byteLength(text.slice(0, end)),
  };
}

/**
 * Reads a journal file; a torn last line is reported, not returned.
 *
 * @example
 * const { records } = readTaintJournal('/var/log/kernel-taint.jsonl');
 * records.filter((r) => r.letter === 'W').map((r) => r.trigger.line);
 */
export function readTaintJournal(file: string): JournalContents {
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

function acquireLock(lockFile: string): void {
  const me = `${process.pid} ${processStart(process.pid) ?? ''}\n`;
  // The lock appears complete or not at all: written to a private name, then
  // hard-linked into place (link fails with EEXIST when it is held). A kill
  // at any point leaves either no lock or a full one naming a dead process.
  const tmp = `${lockFile}.${process.pid}`;
  writeFileSync(tmp, me, { mode: 0o644 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        linkSync(tmp, lockFile);
        return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      let holder: string;
      try {
        holder = readFileSync(lockFile, 'utf8');
      } catch {
        continue; // released meanwhile
      }
      const [pidText, start] = holder.trim().split(' ');
      const pid = Number(pidText);
      const started = Number.isInteger(pid) && pid > 0 ? processStart(pid) : null;
      if (started !== null && started === (start ?? null)) {
        throw new KernelTaintError(
          'ERR_KERNEL_TAINT_JOURNAL_LOCKED',
          `the journal is open in process ${pid} (lock file ${lockFile})`,
        );
      }
      // The holder is gone: remove its lock unless someone replaced it meanwhile.
      try {
        if (readFileSync(lockFile, 'utf8') === holder) unlinkSync(lockFile);
      } catch {
        // Removed by another opener: the next link decides.
      }
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing to clean.
    }
  }
  throw new KernelTaintError('ERR_KERNEL_TAINT_JOURNAL_LOCKED', `could not take the journal lock ${lockFile}`);
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
  /** What recovery found at open. */
  readonly recovered: { readonly records: number; readonly tornBytes: number; readonly skippedLines: number };
  #fd = -1;
  #size = 0;
  #seq = 0;
  #lockFile: string | null = null;
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
        ...(c.modules ? { modules: c.modules.carrying } : {}),
        ...(this.#opts.bootIdPath === undefined && c.bootId ? { bootId: c.bootId } : {}),
      });
    } catch (e) {
      this.emit('error', e as Error);
    }
  };

  /** @internal Use `openTaintJournal`. */
  constructor(file: string, opts: TaintJournalOptions, mode: JournalMode) {
    super();
    this.file = file;
    this.mode = mode;
    this.#opts = opts;
    if (mode === 'disabled') {
      this.recovered = { records: 0, tornBytes: 0, skippedLines: 0 };
      return;
    }
    this.#lockFile = `${file}.lock`;
    acquireLock(this.#lockFile);
    try {
      let created = false;
      try {
        this.#fd = openSync(file, constants.O_RDWR | constants.O_APPEND);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        this.#fd = openSync(file, constants.O_RDWR | constants.O_APPEND | constants.O_CREAT, 0o644);
        created = true;
      }
      if (created) fsyncDir(dirname(file));
      const size = fstatSync(this.#fd).size;
      const buf = Buffer.alloc(size);
      let off = 0;
      while (off < size) {
        const n = readSync(this.#fd, buf, off, size - off, off);
        if (n === 0) break;
        off += n;
      }
      const contents = parseContents(buf.toString('utf8', 0, off));
      if (contents.tornBytes > 0) {
        // An incomplete line was never committed (its write did not finish):
        // cut it so the next record starts on a line of its own.
        ftruncateSync(this.#fd, contents.committedLength);
        fsyncSync(this.#fd);
      }
      this.#size = contents.committedLength;
      for (const r of contents.records) {
        if (r.seq > this.#seq) this.#seq = r.seq;
        this.#mark(r.bootId, r.bit);
      }
      this.recovered = {
        records: contents.records.length,
        tornBytes: contents.tornBytes,
        skippedLines: contents.skippedLines,
      };
    } catch (e) {
      this.#release();
      throw e;
    }
    const source = opts.source;
    let initial: TaintState | null | undefined = opts.state ?? source?.current;
    if (!initial && !source) {
      initial = readTaint({ ...(opts.path ? { path: opts.path } : {}), profile: opts.profile ?? 'auto' });
    }
    if (initial) this.observe(initial, { trigger: 'start' });
    source?.on('change', this.#onChange);
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
    if (fresh.length === 0) return [];
    const via = info.trigger ?? (startLike ? 'start' : 'unknown');
    let modules: readonly ModuleTaint[] | null = info.modules ?? null;
    const dir = this.#opts._sysModuleDir ?? '/sys/module';
    if (modules === null && fresh.some((f) => f.module)) {
      modules = readModuleTaints({ profile: state.profile, _sysModuleDir: dir });
    }
    const sigChecked = readSmall(`${dir}/module/parameters/sig_enforce`) !== null;
    const out: JournalRecord[] = [];
    for (const f of fresh) {
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
      const record: JournalRecord = {
        seq: this.#seq + 1,
        time: new Date().toISOString(),
        bootId,
        bit: f.bit,
        letter: f.letter,
        name: f.name,
        category: f.category,
        observedAt: startLike ? 'start' : 'change',
        trigger,
        actor: info.actor ?? null,
      };
      this.#append(`${JSON.stringify(record)}\n`);
      this.#seq = record.seq;
      this.#mark(bootId, f.bit);
      out.push(record);
      this.emit('record', record);
    }
    return out;
  }

  #release(): void {
    if (this.#fd >= 0) {
      closeSync(this.#fd);
      this.#fd = -1;
    }
    if (this.#lockFile) {
      try {
        unlinkSync(this.#lockFile);
      } catch {
        // Already gone.
      }
      this.#lockFile = null;
    }
  }

  /** Stops listening, closes the file and releases the lock. Idempotent: returns the same promise. */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      this.#opts.source?.off('change', this.#onChange);
      this.#release();
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
  if (typeof file !== 'string' || file.length === 0) {
    throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', 'journal file must be a non-empty string');
  }
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
