// Which loaded modules carry which taint flags. The kernel keeps a per-module
// taint mask for the flags a module load can set (P, O, E, C, F, K, X, T, N, J)
// and shows it in /sys/module/<name>/taint and at the end of /proc/modules
// lines: "kt_prop 16384 0 - Live 0x0000000000000000 (POE)".
import { existsSync, readdirSync, readFileSync } from 'node:fs';
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

function entry(name: string, letters: string, table: ProfileTable): ModuleTaint {
  let value = 0;
  for (const l of letters) {
    const bit = table.byLetter.get(l);
    if (bit !== undefined) value = (value | (1 << bit)) >>> 0;
  }
  return Object.freeze({ name, letters, flags: stateOf(value, table).flags });
}

function fromSysfs(dir: string, table: ProfileTable): ModuleTaint[] | null {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return null;
  }
  const out: ModuleTaint[] = [];
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
    if (letters.length > 0) out.push(entry(name, letters, table));
  }
  return out;
}

/** Parses /proc/modules text: the taint letters are the parenthesised last field, when present. */
export function parseProcModules(text: string, table: ProfileTable): ModuleTaint[] {
  const out: ModuleTaint[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\S+)\s.*\(([A-Z]+)\)\s*$/.exec(line);
    if (m) out.push(entry(m[1], m[2], table));
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Lists the loaded modules that taint the kernel, with their flags, from
 * `/sys/module/<name>/taint` (else `/proc/modules`). Returns an empty array
 * when the kernel has no loadable modules (no `/proc/modules`) or none taints.
 *
 * @example
 * readModuleTaints() // [{ name: 'nvidia', letters: 'POE', flags: [...] }]
 */
export function readModuleTaints(opts: ReadModuleTaintsOptions = {}): ModuleTaint[] {
  const table = tableFor(opts.profile);
  const sys = fromSysfs(opts._sysModuleDir ?? SYS_MODULE, table);
  if (sys !== null) return sys;
  let text: string;
  try {
    text = readFileSync(opts._procModulesPath ?? PROC_MODULES, 'utf8');
  } catch {
    return [];
  }
  return parseProcModules(text, table);
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

// Every watcher that sees one change attributes it in the same native
// delivery batch: read the module list once per batch (the cache is dropped
// by a microtask, which runs after the batch).
let cache: { key: string; list: ModuleTaint[] } | undefined;
function cachedModules(
  profile: Profile | undefined,
  opts: Pick<ReadModuleTaintsOptions, '_sysModuleDir' | '_procModulesPath'>,
): ModuleTaint[] {
  const key = `${profile}\0${opts._sysModuleDir ?? ''}\0${opts._procModulesPath ?? ''}`;
  if (cache?.key === key) return cache.list;
  const list = readModuleTaints({ ...opts, profile });
  if (cache === undefined) {
    queueMicrotask(() => {
      cache = undefined;
    });
  }
  cache = { key, list };
  return list;
}

/**
 * Attributes added flags to modules. Reads the module list only when a module
 * flag was added, so changes to W/D/M... cost no file system access.
 */
export function attributeModules(
  added: readonly TaintFlag[],
  profile: Profile | undefined,
  opts: Pick<ReadModuleTaintsOptions, '_sysModuleDir' | '_procModulesPath'> = {},
): ChangeModules {
  if (added.length === 0) return NONE;
  const unattributable = added.filter((f) => !f.module);
  const bits = added.filter((f) => f.module).map((f) => f.bit);
  let carrying: ModuleTaint[] = [];
  if (bits.length > 0) {
    carrying = cachedModules(profile, opts).filter((m) => m.flags.some((f) => bits.includes(f.bit)));
  }
  return Object.freeze({ carrying: Object.freeze(carrying), unattributable: Object.freeze(unattributable) });
}
