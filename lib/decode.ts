import { invalidArg, KernelTaintError, TaintValueError } from './errors.js';
import { type ProfileTable, profileTable } from './flags.js';
import { resolveProfile } from './profiles.js';
import type {
  CheckedFlagSelector,
  FlagSelector,
  Profile,
  ResolvedProfile,
  TaintFlag,
  TaintFlagInfo,
  TaintState,
  TaintStateJSON,
} from './types.js';

const MAX_VALUE = 0xffff_ffff;

/**
 * Normalises a taint value given as a number, bigint or text (decimal, or hex
 * with `0x`) to an unsigned 32-bit number. Throws `TaintValueError` for
 * anything else: no taint bit exists at or above 32, and a negative number is
 * a signed result of `|`/`&` that must be turned unsigned (`>>> 0`) first.
 */
const tooLarge = (text: string, content?: string) =>
  new TaintValueError(
    `taint value ${text} does not fit in 32 bits (0..${MAX_VALUE})`,
    content !== undefined ? { content } : {},
  );
const negative = (text: string, content?: string) =>
  new TaintValueError(
    `taint value must be unsigned, got ${text} (a signed result of | or &: apply >>> 0 first)`,
    content !== undefined ? { content } : {},
  );

export function toTaintValue(value: number | bigint | string): number {
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TaintValueError(`taint value must be an integer, got ${value}`);
    if (value < 0) throw negative(String(value));
    if (value > MAX_VALUE) throw tooLarge(String(value));
    return value;
  }
  if (typeof value === 'bigint') {
    if (value < 0n) throw negative(String(value));
    if (value > BigInt(MAX_VALUE)) throw tooLarge(String(value));
    return Number(value);
  }
  if (typeof value === 'string') {
    const text = value.trim();
    const m = /^(-?)(?:0[xX]([0-9a-fA-F]+)|(\d+))$/.exec(text);
    if (!m) throw new TaintValueError(`not a taint value: ${JSON.stringify(value.slice(0, 40))}`, { content: value });
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    const big = m[2] !== undefined ? BigInt(`0x${m[2]}`) : BigInt(m[3]);
    if (m[1] === '-' && big !== 0n) throw negative(shown, value);
    if (big > BigInt(MAX_VALUE)) throw tooLarge(shown, value);
    return Number(big);
  }
  throw invalidArg(`taint value must be a number, bigint or string, got ${typeof value}`);
}

function normaliseName(s: string): string {
  return s
    .trim()
    .toUpperCase()
    .replace(/^TAINT_/, '')
    .replace(/[\s-]+/g, '_');
}

/**
 * Resolves a flag selector (bit, letter, name with or without `TAINT_`, alias,
 * or `bit N`) to a bit number in the given profile. Throws
 * `ERR_KERNEL_TAINT_UNKNOWN_FLAG` for a selector that names nothing, so a typo
 * in a filter or policy is an error rather than a silent `false`.
 */
export function resolveFlag<S extends FlagSelector>(
  selector: S & CheckedFlagSelector<S>,
  opts: { profile?: Profile } = {},
): number {
  return resolveIn(selector, profileTable(concreteProfile(opts.profile)));
}

export function resolveIn(selector: FlagSelector, table: ProfileTable): number {
  if (typeof selector === 'number') {
    if (Number.isInteger(selector) && selector >= 0 && selector < 32) return selector;
    throw new KernelTaintError('ERR_KERNEL_TAINT_UNKNOWN_FLAG', `taint bit must be an integer 0-31, got ${selector}`);
  }
  if (typeof selector !== 'string') {
    throw invalidArg(`flag selector must be a number or string, got ${typeof selector}`);
  }
  const s = selector.trim();
  if (s.length === 1) {
    const exact = table.byLetter.get(s);
    if (exact !== undefined) return exact;
    const upper = table.byLetter.get(s.toUpperCase());
    if (upper !== undefined) return upper;
  }
  const bitMatch = /^(?:bit[\s_]?)?(\d{1,2})$/i.exec(s);
  if (bitMatch) return resolveIn(Number(bitMatch[1]), table);
  const name = normaliseName(s);
  for (const f of table.flags) {
    if (f.name === name || f.aliases.includes(name)) return f.bit;
  }
  throw new KernelTaintError(
    'ERR_KERNEL_TAINT_UNKNOWN_FLAG',
    `unknown taint flag ${JSON.stringify(selector)} for profile '${table.id}'`,
  );
}

function concreteProfile(p: Profile | undefined): ResolvedProfile {
  return resolveProfile(p, 'mainline');
}

function flagOf(info: TaintFlagInfo): TaintFlag {
  return Object.freeze({
    bit: info.bit,
    letter: info.letter,
    name: info.name,
    description: info.description,
    category: info.category,
    module: info.module,
    known: true,
    since: info.since,
  });
}

function unknownFlag(bit: number, table: ProfileTable): TaintFlag {
  return Object.freeze({
    bit,
    letter: '?',
    name: `bit ${bit}`,
    description: `Bit ${bit} is set but the '${table.id}' profile does not define it: a vendor or newer kernel flag. Check your kernel's documentation.`,
    category: 'unknown',
    module: false,
    known: false,
    since: null,
  });
}

// Per table, the TaintFlag of each bit (decoded once): a state's flags are looked up by index, with no
// key to build, on the path a watcher's change takes.
const flagCache = new WeakMap<ProfileTable, (TaintFlag | undefined)[]>();
function flagFor(bit: number, table: ProfileTable): TaintFlag {
  let byBit = flagCache.get(table);
  if (byBit === undefined) {
    byBit = new Array<TaintFlag | undefined>(32).fill(undefined);
    flagCache.set(table, byBit);
  }
  let f = byBit[bit];
  if (f === undefined) {
    const info = table.byBit.get(bit);
    f = info ? flagOf(info) : unknownFlag(bit, table);
    byBit[bit] = f;
  }
  return f;
}

const NO_LETTERS: readonly string[] = Object.freeze([]);
const NO_BITS: readonly number[] = Object.freeze([]);
const NO_NAMES: Readonly<Record<string, string>> = Object.freeze({});

class State implements TaintState {
  readonly value: number;
  readonly tainted: boolean;
  readonly flags: readonly TaintFlag[];
  readonly unknownBits: readonly number[];
  readonly unknownLetters: readonly string[];
  readonly letters: string;
  readonly names: readonly string[];
  readonly unknownNames: Readonly<Record<string, string>>;
  readonly unknownValue: boolean;
  readonly profile: ResolvedProfile;
  readonly #table: ProfileTable;

  constructor(value: number, table: ProfileTable, unknownLetters: readonly string[], extra: StateExtra = {}) {
    // One pass over the set bits (a watcher decodes each new value on its change's path).
    const flags: TaintFlag[] = [];
    const names: string[] = [];
    let unknownBits: number[] | null = null;
    let letters = '';
    for (let rest = value >>> 0; rest !== 0; rest = (rest & (rest - 1)) >>> 0) {
      const bit = 31 - Math.clz32(rest & -rest);
      const f = flagFor(bit, table);
      flags.push(f);
      names.push(f.name);
      letters += f.letter;
      if (!f.known) {
        unknownBits ??= [];
        unknownBits.push(bit);
      }
    }
    this.value = value;
    this.unknownValue = extra.unknownValue === true;
    this.tainted = value !== 0 || unknownLetters.length > 0 || this.unknownValue;
    this.flags = Object.freeze(flags);
    this.unknownBits = unknownBits === null ? NO_BITS : Object.freeze(unknownBits);
    this.unknownLetters = unknownLetters.length === 0 ? NO_LETTERS : Object.freeze([...unknownLetters]);
    if (unknownLetters.length === 0) {
      this.unknownNames = NO_NAMES;
    } else {
      const known: Record<string, string> = {};
      for (const l of unknownLetters) {
        const n = extra.unknownNames?.[l];
        if (n) known[l] = n;
      }
      this.unknownNames = Object.freeze(known);
    }
    this.letters = letters;
    this.names = Object.freeze(names);
    this.profile = table.id;
    this.#table = table;
    Object.freeze(this);
  }

  has<S extends FlagSelector>(flag: S & CheckedFlagSelector<S>): boolean {
    const bit = resolveIn(flag, this.#table);
    return ((this.value >>> bit) & 1) === 1;
  }

  toString(): string {
    if (!this.tainted) return 'Not tainted';
    const parts = this.flags.map((f) => `[${f.letter}]=${f.name}`);
    for (const l of this.unknownLetters) parts.push(`[${l}]=${this.unknownNames[l] ?? 'unknown'}`);
    if (this.unknownValue) parts.push(parts.length === 0 ? '(flags not shown)' : '(and flags not shown)');
    return `Tainted: ${parts.join(', ')}`;
  }

  toJSON(): TaintStateJSON {
    return {
      value: this.value,
      tainted: this.tainted,
      letters: this.letters,
      names: [...this.names],
      unknownBits: [...this.unknownBits],
      unknownLetters: [...this.unknownLetters],
      unknownNames: { ...this.unknownNames },
      unknownValue: this.unknownValue,
      profile: this.profile,
      flags: [...this.flags],
    };
  }
}

// States are immutable, so the few values a machine ever has are decoded once (and a watcher decodes
// the values one bit away ahead of time).
const STATE_CACHE_MAX = 256;
const stateCache = new Map<string, TaintState>();

/** What a parsed state carries beyond its value. */
export interface StateExtra {
  /** Names read beside unknown letters (`[H]=KILLSWITCH`). */
  unknownNames?: Readonly<Record<string, string>>;
  /** The text said `Tainted:` but did not show (all) the set flags. */
  unknownValue?: boolean;
}

/** Builds a state from an already validated value. Internal: no checks. */
export function stateOf(
  value: number,
  table: ProfileTable,
  unknownLetters: readonly string[] = [],
  extra: StateExtra = {},
): TaintState {
  if (unknownLetters.length > 0 || extra.unknownValue) return new State(value >>> 0, table, unknownLetters, extra);
  const key = `${table.id}:${value >>> 0}`;
  let s = stateCache.get(key);
  if (!s) {
    // The oldest goes first (a Map iterates in insertion order): a watcher's decoded-ahead states stay.
    if (stateCache.size >= STATE_CACHE_MAX) stateCache.delete(stateCache.keys().next().value as string);
    s = new State(value >>> 0, table, unknownLetters);
    stateCache.set(key, s);
  }
  return s;
}

/** @internal A state built without the cache (the watcher's warm-up of its change path). */
export function decodeUncached(value: number, table: ProfileTable): TaintState {
  return new State(value >>> 0, table, []);
}

/**
 * Decodes a taint value into its flags. Pure: works on every platform.
 *
 * @example
 * decodeTaint(4097).letters        // 'PO'
 * decodeTaint('12289').names       // ['PROPRIETARY_MODULE', 'OOT_MODULE', 'UNSIGNED_MODULE']
 * decodeTaint(1n << 31n).unknownBits // [31] (mainline defines no bit 31)
 */
export function decodeTaint(value: number | bigint | string, opts: { profile?: Profile } = {}): TaintState {
  return stateOf(toTaintValue(value), profileTable(concreteProfile(opts.profile)));
}
