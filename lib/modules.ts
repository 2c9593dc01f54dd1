// Which loaded modules carry which taint flags. The kernel keeps a per-module
// taint mask for the flags a module load can set (P, O, E, C, F, K, X, T, N, J)
// and shows it at the end of /proc/modules lines
// ("kt_prop 16384 0 - Live 0x0000000000000000 (POE)") and in
// /sys/module/<name>/taint. This file owns the one cache of that list.
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { stateOf } from './decode.js';
import { type ProfileTable, profileTable } from './flags.js';
import { detectProfile, resolveProfile } from './profiles.js';
import type { Profile, TaintFlag } from './types.js';

/** A loaded module that taints the kernel. */
export interface ModuleTaint {
  /** Module name as in /sys/module (`kt_prop`). */
  readonly name: string;
  /** The module's taint letters as the kernel prints them (`"POE"`). */
  readonly letters: string;
  /** The flags those letters stand for in the profile; letters the profile does not define are left out. */
  readonly flags: readonly TaintFlag[];
}

export interface ReadModuleTaintsOptions {
  /** Flag table used to turn letters into flags; `auto` (default) detects the running system's. */
  profile?: Profile;
  /** @internal Test-only: directory to read instead of /sys/module. */
  _sysModuleDir?: string;
  /** @internal Test-only: file to read instead of /proc/modules. */
  _procModulesPath?: string;
}

const SYS_MODULE = '/sys/module';
const PROC_MODULES = '/proc/modules';

function tableFor(profile: Profile | undefined): ProfileTable {
  return profileTable(resolveProfile(profile, detectProfile));
}

/** A tainting module as read, before its letters are turned into a profile's flags. */
interface RawModule {
  readonly name: string;
  readonly letters: string;
}

function entry(raw: RawModule, table: ProfileTable): ModuleTaint {
  let value = 0;
  for (const l of raw.letters) {
    const bit = table.byLetter.get(l);
    if (bit !== undefined) value = (value | (1 << bit)) >>> 0;
  }
  return Object.freeze({ name: raw.name, letters: raw.letters, flags: stateOf(value, table).flags });
}

const byName = (a: RawModule, b: RawModule): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function fromSysfs(dir: string): RawModule[] | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  const out: RawModule[] = [];
  for (const name of names.sort()) {
    // Built-in modules have no taint attribute; loaded ones have it (an empty
    // line when clean). existsSync first: most entries are built-ins, and a
    // thrown ENOENT per entry costs more than the stat.
    const file = `${dir}/${name}/taint`;
    if (!existsSync(file)) continue;
    let letters: string;
    try {
      letters = readFileSync(file, 'utf8').trim();
    } catch {
      continue; // unloaded meanwhile
    }
    if (letters.length > 0) out.push({ name, letters });
  }
  return out;
}

/**
 * The tainting modules of /proc/modules text. The kernel (kernel/module/procfs.c
 * `m_show`) prints `name size refcount deps state address`, then, only when the
 * module's taint mask is not zero, ` (letters)` from `module_flags()`: the
 * module's letters followed by `+` while it is Loading or `-` while Unloading
 * (`kt_prop 16384 0 - Loading 0x0000000000000000 (POE+)`). The address is
 * 0x0000000000000000 for readers kallsyms hides it from.
 */
function rawProcModules(text: string): RawModule[] {
  const out: RawModule[] = [];
  let from = 0;
  while (from < text.length) {
    let nl = text.indexOf('\n', from);
    if (nl < 0) nl = text.length;
    // Only a line ending in ")" carries taint letters: the others cost one comparison.
    let last = nl - 1;
    while (last > from && (text.charCodeAt(last) === 32 || text.charCodeAt(last) === 13)) last--;
    if (text.charCodeAt(last) === 41 /* ) */) {
      const m = PROC_LINE.exec(text.slice(from, last + 1));
      if (m && m[2].length > 0) out.push({ name: m[1], letters: m[2] });
    }
    from = nl + 1;
  }
  return out.sort(byName);
}
// Name, then anything, then the parenthesised last field: letters, then the
// optional load/unload mark.
const PROC_LINE = /^(\S+)\s.*\s\(([A-Z]*)[+-]?\)$/;

/** Parses /proc/modules text: the taint letters are the parenthesised last field, when present. */
export function parseProcModules(text: string, table: ProfileTable): ModuleTaint[] {
  return rawProcModules(text).map((m) => entry(m, table));
}

// ---- the module-list cache ---------------------------------------------------
//
// Everything in the package that needs the module list (readModuleTaints(),
// a watcher's `TaintChange.modules` and evidence, explainTaint(), the health
// check, the panel feed, the journal) goes through listOf() below: one cache,
// one entry per source (real or test paths), one lifetime rule.
//
// An entry is used again when nothing can have changed it:
//   - `generation` is unchanged: it moves when a watcher sees the module bits
//     of the taint value change (a module load sets them before the module is
//     listed as Loading, so the change itself proves the list is stale), and
//   - either it was read in the same synchronous turn (every watcher of one
//     native delivery batch, and the evidence and `modules` of one change,
//     share one read), or a watch thread with the uevent trigger armed vouches
//     for it: its count of module uevents (add and remove, plus socket
//     overflows that may have dropped some) has not moved since the read, and
//     the read is at most MAX_AGE_MS old. The age bound covers kernels that
//     never send the uevent to this socket (a container in its own user
//     namespace gets no untagged uevents): a list is then at most 1 s stale,
//     the shortest lifetime the health check had before there was one cache.
// Otherwise (no watcher, a one-shot readModuleTaints()) every call reads.
const MAX_AGE_MS = 1000;
const MAX_ENTRIES = 4;

interface CacheEntry {
  readonly generation: number;
  readonly turn: number;
  readonly at: number;
  /** The uevent count when the read began; undefined when no watch thread vouched. */
  readonly events: number | undefined;
  readonly raw: readonly RawModule[];
  readonly lists: Map<string, readonly ModuleTaint[]>;
}

const cache = new Map<string, CacheEntry>();
let generation = 0;
let lastModuleBits = -1;
let turn = 0;
let turnEnds = false;
let reads = 0;
/** Readers of a watch thread's module-uevent count, one per watcher that armed 'uevent'. */
const eventCounters = new Set<() => number | undefined>();

function currentTurn(): number {
  if (!turnEnds) {
    turnEnds = true;
    queueMicrotask(() => {
      turn++;
      turnEnds = false;
    });
  }
  return turn;
}

function moduleEvents(): number | undefined {
  for (const count of eventCounters) {
    const n = count();
    if (n !== undefined) return n;
  }
  return undefined;
}

function fresh(e: CacheEntry): boolean {
  if (e.generation !== generation) return false;
  if (e.turn === turn) return true;
  return e.events !== undefined && performance.now() - e.at <= MAX_AGE_MS && moduleEvents() === e.events;
}

type SourceOptions = Pick<ReadModuleTaintsOptions, '_sysModuleDir' | '_procModulesPath'>;

// One buffer for every /proc/modules read: the list is re-read on every change
// that adds a module bit, so that path allocates only the text it returns.
let readBuf: Buffer | undefined;

/** A whole file as latin1 text, read into the kept buffer (procfs files report size 0: no fstat). */
function readText(path: string): string {
  const fd = openSync(path, 'r');
  try {
    let buf = readBuf ?? Buffer.allocUnsafe(64 * 1024);
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        const bigger = Buffer.allocUnsafe(buf.length * 2);
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const n = readSync(fd, buf, len, buf.length - len, null);
      if (n === 0) break;
      len += n;
    }
    // Keep it unless a huge file grew it (a real /proc/modules is tens of kB).
    readBuf = buf.length <= 1024 * 1024 ? buf : undefined;
    return buf.toString('latin1', 0, len);
  } finally {
    closeSync(fd);
  }
}

/**
 * /proc/modules first (one read), else /sys/module. A test that names only one
 * of them (a fake file or tree) reads only that, never the host's other one.
 */
function readRaw(opts: SourceOptions): RawModule[] {
  reads++;
  const test = opts._procModulesPath !== undefined || opts._sysModuleDir !== undefined;
  const proc = test ? opts._procModulesPath : PROC_MODULES;
  const sys = test ? opts._sysModuleDir : SYS_MODULE;
  if (proc !== undefined) {
    try {
      return rawProcModules(readText(proc));
    } catch {
      // No /proc/modules (or not readable): try sysfs.
    }
  }
  return (sys !== undefined ? fromSysfs(sys) : null) ?? [];
}

function listOf(table: ProfileTable, opts: SourceOptions): readonly ModuleTaint[] {
  const key = `${opts._procModulesPath ?? ''}\0${opts._sysModuleDir ?? ''}`;
  let e = cache.get(key);
  if (e === undefined || !fresh(e)) {
    const events = moduleEvents();
    const raw = readRaw(opts);
    e = { generation, turn: currentTurn(), at: performance.now(), events, raw, lists: new Map() };
    cache.delete(key);
    cache.set(key, e);
    if (cache.size > MAX_ENTRIES) cache.delete(cache.keys().next().value as string);
  }
  let list = e.lists.get(table.id);
  if (list === undefined) {
    list = Object.freeze(e.raw.map((m) => entry(m, table)));
    e.lists.set(table.id, list);
  }
  return list;
}

/**
 * @internal A watcher saw the taint value: when its module bits differ from the
 * last ones seen, the module list is stale (see the cache rule above).
 */
export function noteModuleBits(bits: number): void {
  if (bits !== lastModuleBits) {
    lastModuleBits = bits;
    generation++;
  }
}

/**
 * @internal A watcher armed the uevent trigger: `count` returns its watch
 * thread's module-uevent count (undefined when unknown). Returns the removal.
 */
export function vouchForModules(count: () => number | undefined): () => void {
  eventCounters.add(count);
  return () => {
    eventCounters.delete(count);
  };
}

/** @internal Test and bench counter: module-list reads since load. */
export function moduleListReads(): number {
  return reads;
}

/**
 * Lists the loaded modules that taint the kernel, with their flags, from
 * `/proc/modules` (one read; else `/sys/module/<name>/taint`). Returns an
 * empty array when the kernel has no loadable modules or none taints. While a
 * watcher runs, a list read less than a second ago is reused unless a module
 * uevent or a change of the taint value's module bits came since.
 *
 * @example
 * readModuleTaints() // [{ name: 'nvidia', letters: 'POE', flags: [...] }]
 */
export function readModuleTaints(opts: ReadModuleTaintsOptions = {}): ModuleTaint[] {
  return [...listOf(tableFor(opts.profile), opts)];
}

/** Who set the bits a change added: see `TaintChange.modules`. */
export interface ChangeModules {
  /** Loaded modules whose taint includes one of the added module flags (P, O, E, C, F, K, X, T, N, J). */
  readonly carrying: readonly ModuleTaint[];
  /**
   * Added flags that no module can carry (W, D, M, B, L, U, A, I, S, R and
   * unknown bits): the kernel or a user set them, not a module load.
   */
  readonly unattributable: readonly TaintFlag[];
}

const NONE: ChangeModules = Object.freeze({ carrying: Object.freeze([]), unattributable: Object.freeze([]) });

/**
 * Attributes added flags to modules. Reads the module list only when a module
 * flag was added, so changes to W/D/M... cost no file system access.
 */
export function attributeModules(
  added: readonly TaintFlag[],
  profile: Profile | undefined,
  opts: SourceOptions = {},
): ChangeModules {
  if (added.length === 0) return NONE;
  const unattributable = added.filter((f) => !f.module);
  const bits = added.filter((f) => f.module).map((f) => f.bit);
  let carrying: ModuleTaint[] = [];
  if (bits.length > 0) {
    carrying = listOf(tableFor(profile), opts).filter((m) => m.flags.some((f) => bits.includes(f.bit)));
  }
  return Object.freeze({ carrying: Object.freeze(carrying), unattributable: Object.freeze(unattributable) });
}
