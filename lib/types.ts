import type { FlagLetter, FlagName } from './flag-selectors.js';

export type { FlagLetter, FlagName } from './flag-selectors.js';

/** Vendor flag tables. `auto` picks one from the running system (reading) or from the text (parsing). */
export type Profile =
  | 'mainline'
  | 'rhel6'
  | 'rhel7'
  | 'rhel8'
  | 'rhel9'
  | 'rhel10'
  | 'suse'
  | 'suse-legacy'
  | 'peios'
  | 'auto';

/** A concrete profile: what `auto` resolves to. */
export type ResolvedProfile = Exclude<Profile, 'auto'>;

/**
 * What a flag says about the machine:
 * - `hardware`: the hardware or firmware misbehaved or is outside its spec;
 * - `stability`: the kernel hit a bug and its state may be inconsistent;
 * - `integrity`: code the kernel community did not review is running;
 * - `informational`: expected on some systems, worth knowing;
 * - `unknown`: a bit this profile does not define (kept, never dropped).
 */
export type TaintCategory = 'hardware' | 'stability' | 'integrity' | 'informational' | 'unknown';

/** One entry of the flag table. */
export interface TaintFlagInfo {
  /** Bit number in /proc/sys/kernel/tainted (0-31). */
  readonly bit: number;
  /** Char the kernel prints when the bit is set. */
  readonly letter: string;
  /** Char printed when the bit is clear (`G` for bit 0, else a space; RHEL pads unused bits with `-`). */
  readonly clear: string;
  /** Verbose name as in `Tainted: [O]=OOT_MODULE` (without `TAINT_`). */
  readonly name: string;
  /** Other accepted names (historical or descriptive), e.g. `UNSAFE_SMP`. */
  readonly aliases: readonly string[];
  /** Whether modules carry this flag (shown in `/sys/module/<m>/taint`). */
  readonly module: boolean;
  /** First kernel release that defines the bit. */
  readonly since: string;
  readonly category: Exclude<TaintCategory, 'unknown'>;
  /** Plain English: what it means and what to do about it. */
  readonly description: string;
  /** Letters older kernels printed for the same bit (SUSE `N`/`U`). */
  readonly legacyLetters?: readonly string[];
  /** Profiles (vendors) that define this bit this way. */
  readonly profiles: readonly ResolvedProfile[];
  /** Profiles whose standard builds can never set this bit (Peios: F, R, K). */
  readonly unreachableIn: readonly ResolvedProfile[];
}

/** A set flag, as found in a value. Unknown bits have `known: false`. */
export interface TaintFlag {
  readonly bit: number;
  readonly letter: string;
  readonly name: string;
  readonly description: string;
  readonly category: TaintCategory;
  readonly module: boolean;
  readonly known: boolean;
  readonly since: string | null;
}

/** What a flag can be named by: a bit number, a letter, a name (with or without `TAINT_`) or an alias. */
export type FlagSelector = number | string;

/**
 * The selector literals the flag table knows: letters, names and aliases
 * (any case, with or without `TAINT_`), and `bit N` / `N`.
 */
export type KnownFlagSelector =
  | FlagLetter
  | Lowercase<FlagLetter>
  | FlagName
  | Lowercase<FlagName>
  | `TAINT_${FlagName}`
  | `taint_${Lowercase<FlagName>}`
  | `${number}`
  | `bit ${number}`
  | `bit${number}`
  | `bit_${number}`;

/**
 * A selector checked at compile time when it is a literal: `'MACHINE_CHEK'`
 * becomes `never`, so the call does not compile. A number or a `string`
 * variable passes (it is checked at run time, with
 * `ERR_KERNEL_TAINT_UNKNOWN_FLAG`).
 */
export type CheckedFlagSelector<S extends FlagSelector> = S extends number
  ? S
  : string extends S
    ? S
    : S extends KnownFlagSelector
      ? S
      : never;

/** A decoded taint value. */
export interface TaintState {
  /** The raw value, unsigned 32-bit. */
  readonly value: number;
  readonly tainted: boolean;
  /** Set flags in bit order, unknown bits included. */
  readonly flags: readonly TaintFlag[];
  /** Set bits the profile does not define. */
  readonly unknownBits: readonly number[];
  /** Letters the parser saw that the profile does not define (parsing only). */
  readonly unknownLetters: readonly string[];
  /** The names a verbose line gave unknown letters (`[H]=KILLSWITCH` → `{ H: 'KILLSWITCH' }`; parsing only). */
  readonly unknownNames: Readonly<Record<string, string>>;
  /**
   * The text said `Tainted:` without showing (all) the set flags, e.g. a header whose
   * kernel sets a bit its position string does not print (`Tainted: G      `): the kernel
   * is tainted, `value` holds only the flags shown (parsing only).
   */
  readonly unknownValue: boolean;
  /** One char per set bit in bit order (`"PO"`), `?` for an unknown bit, `""` when clean. */
  readonly letters: string;
  /** Verbose names of the set flags, in bit order (`bit N` for unknown bits). */
  readonly names: readonly string[];
  /** The profile used to decode. */
  readonly profile: ResolvedProfile;
  /** Whether a flag is set: a bit, letter, name (with or without `TAINT_`) or alias. */
  has<S extends FlagSelector>(flag: S & CheckedFlagSelector<S>): boolean;
  /** `Not tainted` or `Tainted: [P]=PROPRIETARY_MODULE, [O]=OOT_MODULE`. */
  toString(): string;
  toJSON(): TaintStateJSON;
}

export interface TaintStateJSON {
  value: number;
  tainted: boolean;
  letters: string;
  names: string[];
  unknownBits: number[];
  unknownLetters: string[];
  unknownNames: Record<string, string>;
  unknownValue: boolean;
  profile: ResolvedProfile;
  flags: TaintFlag[];
  [extra: string]: unknown;
}

/** What the kernel and its log say about one set bit (`explainTaint()`, `TaintChange.evidence`). */
export interface TaintExplanation {
  state: TaintState;
  bits: TaintEvidence[];
  /** In plain words: what could not be known and why. */
  limits: string[];
}

/** The evidence for one set bit. */
export interface TaintEvidence {
  flag: TaintFlag;
  /** Wall-clock estimate (boot time + log timestamp); null when unknown. */
  since: Date | null;
  /** Seconds after boot, from the log record. */
  sinceBoot: number | null;
  cause: TaintCause | null;
  /** null unless something recorded it; never guessed. */
  actor: TaintActor | null;
  source: 'kmsg' | 'modules' | 'watch' | 'journal' | 'built-in';
}

/** Why a bit was set. */
export interface TaintCause {
  kind:
    | 'module'
    | 'warning'
    | 'oops'
    | 'machine-check'
    | 'bad-page'
    | 'soft-lockup'
    | 'user-write'
    | 'firmware'
    | 'built-in'
    | 'other';
  module?: { name: string; letters: string; license?: string; intree?: boolean; signed?: boolean };
  /** 'mm/slub.c:123' or 'kt_warn_init+0x11/0x1000 [kt_warn]'. */
  site?: string;
  /** The kernel log line, record prefix stripped, ≤ 512 bytes. */
  line?: string;
}

/**
 * Who was running when the bit was set, as the kernel reported it.
 * `kind`: `process` for bits a process asks for (U P O E …), `incidental` for
 * W D B L (whatever task hit the WARN / oops / lockup), `hardware` / `boot`
 * for M I S A.
 */
export interface TaintActor {
  kind: 'process' | 'incidental' | 'hardware' | 'boot';
  pid: number | null;
  tid: number | null;
  comm: string | null;
  exe?: string | null;
  uid?: number | null;
  via: 'watchpoint' | 'tracepoint' | 'kmsg' | 'fanotify';
}
