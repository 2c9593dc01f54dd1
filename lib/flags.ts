import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { invalidArg } from './errors.js';
import type { ResolvedProfile, TaintFlagInfo } from './types.js';

type RawFlag = Omit<TaintFlagInfo, 'profiles' | 'unreachableIn'>;
type TableFlag = TaintFlagInfo & { readonly unreachable?: boolean };
interface RawProfile {
  label: string;
  release?: string;
  releaseFrom?: string;
  releaseBelow?: string;
  appendVendorBits?: boolean;
  inherits?: string;
  width: number | null;
  pad: string | null;
  mainlineWidth?: number;
  remove?: number[];
  add?: RawFlag[];
  unreachable?: number[];
}

/** Everything a profile needs to decode, format and parse. */
export interface ProfileTable {
  readonly id: ResolvedProfile;
  readonly label: string;
  /** Flags by bit (sparse). */
  readonly byBit: ReadonlyMap<number, TableFlag>;
  /** Flags in bit order. */
  readonly flags: readonly TableFlag[];
  /** Set-letter → bit, legacy letters included. */
  readonly byLetter: ReadonlyMap<string, number>;
  /** Release pattern that identifies kernels of this vendor. */
  readonly release: RegExp | null;
  /** Releases from this version on (and below `releaseBelow`) belong to the profile (SUSE eras). */
  readonly releaseFrom: string | null;
  readonly releaseBelow: string | null;
  /**
   * The vendor's bits beyond the mainline ones are printed right after them, in bit
   * order, with no gap (SUSE: its print_tainted() skips unused taint_flags entries).
   */
  readonly appendVendorBits: boolean;
  /** Position-string width the vendor prints (RHEL prints every bit up to 29 or 31). */
  readonly width: number | null;
  readonly pad: string | null;
  /** How many mainline bits the vendor kernel prints (backports make this differ from its version). */
  readonly mainlineWidth: number | null;
}

// The table is data, read from the file beside this module (lib/ in development,
// dist/ when built: tsdown copies it): JSON.parse is cheaper at start-up than
// compiling the same object as a JS literal, and it keeps the core's JS small.
const data: unknown = JSON.parse(readFileSync(join(import.meta.dirname, 'flags.json'), 'utf8'));
const raw = data as { mainline: RawFlag[]; profiles: Record<ResolvedProfile, RawProfile> };

export const PROFILE_IDS: readonly ResolvedProfile[] = Object.keys(raw.profiles) as ResolvedProfile[];

function resolveRaw(id: ResolvedProfile): Required<Pick<RawProfile, 'remove' | 'add' | 'unreachable'>> & RawProfile {
  const p = raw.profiles[id];
  const base = p.inherits ? resolveRaw(p.inherits as ResolvedProfile) : undefined;
  return {
    ...base,
    ...p,
    remove: p.remove ?? base?.remove ?? [],
    add: p.add ?? base?.add ?? [],
    unreachable: p.unreachable ?? base?.unreachable ?? [],
  };
}

/** The raw flags a profile defines, indexed by bit (sparse). */
function rawFlagsOf(p: ReturnType<typeof resolveRaw>): (RawFlag | undefined)[] {
  const byBit: (RawFlag | undefined)[] = new Array(32);
  for (const f of raw.mainline) if (!p.remove.includes(f.bit)) byBit[f.bit] = f;
  for (const f of p.add) byBit[f.bit] = f;
  return byBit;
}

function buildProfile(id: ResolvedProfile): ProfileTable {
  const p = resolveRaw(id);
  const byBit = new Map<number, TableFlag>();
  for (const f of rawFlagsOf(p)) if (f !== undefined) byBit.set(f.bit, { ...f, profiles: [], unreachableIn: [] });
  for (const bit of p.unreachable) {
    const f = byBit.get(bit);
    if (f) byBit.set(bit, { ...f, unreachable: true });
  }
  const flags = [...byBit.values()].sort((a, b) => a.bit - b.bit);
  const byLetter = new Map<string, number>();
  for (const f of flags) {
    // '-' is padding, never a set letter.
    if (f.letter !== '-') byLetter.set(f.letter, f.bit);
    for (const l of f.legacyLetters ?? []) if (!byLetter.has(l)) byLetter.set(l, f.bit);
  }
  return {
    id,
    label: p.label,
    byBit,
    flags,
    byLetter,
    release: p.release ? new RegExp(p.release) : null,
    releaseFrom: p.releaseFrom ?? null,
    releaseBelow: p.releaseBelow ?? null,
    appendVendorBits: p.appendVendorBits === true,
    width: p.width,
    pad: p.pad,
    mainlineWidth: p.mainlineWidth ?? null,
  };
}

// Built on first use: a process that reads the taint value needs one table,
// and building all of them at import was most of what importing cost.
const tables = new Map<ResolvedProfile, ProfileTable>();

/** The decoding table of a concrete profile. */
export function profileTable(id: ResolvedProfile): ProfileTable {
  let t = tables.get(id);
  if (!t) {
    if (typeof id !== 'string' || !Object.hasOwn(raw.profiles, id))
      throw invalidArg(`unknown taint profile ${JSON.stringify(id)}: expected one of ${PROFILE_IDS.join(', ')}, auto`);
    t = buildProfile(id);
    tables.set(id, t);
  }
  return t;
}

/** What identifies a profile's kernels by their release (without building its table). */
export interface ReleaseRule {
  readonly id: ResolvedProfile;
  readonly release: RegExp | null;
  readonly releaseFrom: string | null;
  readonly releaseBelow: string | null;
}

let releaseRules: readonly ReleaseRule[] | undefined;
/** The release rule of every profile, in PROFILE_IDS order. */
export function profileReleaseRules(): readonly ReleaseRule[] {
  releaseRules ??= PROFILE_IDS.map((id) => {
    const p = resolveRaw(id);
    return {
      id,
      release: p.release ? new RegExp(p.release) : null,
      releaseFrom: p.releaseFrom ?? null,
      releaseBelow: p.releaseBelow ?? null,
    };
  });
  return releaseRules;
}

function collectFlagInfos(): TaintFlagInfo[] {
  // From the raw data, not the tables: importing must not build every table.
  const seen = new Map<string, { info: RawFlag; profiles: ResolvedProfile[]; unreachableIn: ResolvedProfile[] }>();
  for (const id of PROFILE_IDS) {
    const p = resolveRaw(id);
    const byBit = rawFlagsOf(p);
    for (let bit = 0; bit < byBit.length; bit++) {
      const f = byBit[bit];
      if (f === undefined) continue;
      const key = `${bit}:${f.letter}:${f.name}`;
      let entry = seen.get(key);
      if (!entry) {
        entry = { info: f, profiles: [], unreachableIn: [] };
        seen.set(key, entry);
      }
      entry.profiles.push(id);
      if (p.unreachable.includes(bit)) entry.unreachableIn.push(id);
    }
  }
  return [...seen.values()]
    .map(
      ({ info, profiles, unreachableIn }): TaintFlagInfo =>
        Object.freeze({
          ...info,
          aliases: Object.freeze([...info.aliases]),
          profiles: Object.freeze(profiles),
          unreachableIn: Object.freeze(unreachableIn),
        }),
    )
    .sort((a, b) => a.bit - b.bit || (a.profiles[0] < b.profiles[0] ? -1 : a.profiles[0] > b.profiles[0] ? 1 : 0));
}

/**
 * Every flag any profile defines, in bit order; vendor variants of a bit are
 * separate entries whose `profiles` say where they apply.
 *
 * @example
 * TAINT_FLAGS.filter((f) => f.profiles.includes('mainline')).map((f) => f.letter).join('') // 'PFSRMBUDAWCIOELKXTNJ'
 */
export const TAINT_FLAGS: readonly TaintFlagInfo[] = Object.freeze(collectFlagInfos());

/** The highest mainline bit plus one: the position-string width of the newest kernel. */
export const MAINLINE_FLAG_COUNT = raw.mainline.length;
