// Taint policies: plain JSON that says which flags make a machine pass, warn
// or fail. Pure: no fs (except loadTaintPolicy), no addon.
import { readFileSync } from 'node:fs';
import { resolveIn, toTaintValue } from '../decode.js';
import { describeValue, KernelTaintError } from '../errors.js';
import { PROFILE_IDS, profileTable } from '../flags.js';
import type { FlagSelector, TaintCategory, TaintFlag, TaintState } from '../types.js';

/** Outcome of a check, in the vocabulary of the IETF health check draft. */
export type TaintStatus = 'pass' | 'warn' | 'fail';

/** Allow a flag, optionally only when every module carrying it is in `modules`. */
export interface TaintAllowRule {
  /** Bit, letter or name (`'O'`, `12`, `'OOT_MODULE'`). */
  flag: FlagSelector;
  /** Module names (`*` wildcards allowed; `-` and `_` are the same, as for modprobe). */
  modules?: string[];
  /** Why it is allowed: shown in reasons. */
  reason?: string;
}

/**
 * A taint policy. Every field is optional; `{}` is the default policy.
 *
 * @example
 * const policy: TaintPolicy = {
 *   categories: { integrity: 'pass' },
 *   flags: { W: 'warn' },
 *   allow: [{ flag: 'O', modules: ['zfs', 'nvidia*'] }, 'U'],
 *   baseline: 'start',
 * };
 */
export interface TaintPolicy {
  /** Status per category; defaults in `DEFAULT_CATEGORY_STATUS`. */
  categories?: Partial<Record<TaintCategory, TaintStatus>>;
  /** Status per flag (key: letter, name or bit), over its category's. */
  flags?: Record<string, TaintStatus>;
  /** Flags that pass: a selector, or a rule restricted to modules. */
  allow?: Array<FlagSelector | TaintAllowRule>;
  /**
   * Bits to ignore: `'start'` (the bits set when the checker started), a
   * taint value, or a list of selectors.
   */
  baseline?: 'start' | number | string | FlagSelector[];
  /**
   * Count only bits that were not set at the first observation on this boot
   * (the checker keeps that observation in a baseline file keyed by boot_id).
   */
  onlyNewSinceBoot?: boolean;
  /** Free text. */
  description?: string;
  /** Ignored: lets a policy file name its JSON schema. */
  $schema?: string;
}

/** The status each category maps to unless a policy says otherwise. */
export const DEFAULT_CATEGORY_STATUS: Readonly<Record<TaintCategory, TaintStatus>> = Object.freeze({
  hardware: 'fail',
  stability: 'fail',
  integrity: 'warn',
  informational: 'pass',
  unknown: 'warn',
});

/** Why one set flag got its status. */
export interface TaintReason {
  /** `null` for a letter a parsed state held that the profile does not define. */
  readonly bit: number | null;
  readonly letter: string;
  readonly name: string;
  readonly category: TaintCategory;
  readonly status: TaintStatus;
  /** Which rule decided. */
  readonly rule: 'baseline' | 'allow' | 'allow-modules' | 'flag' | 'category';
  /** One sentence for humans. */
  readonly message: string;
  /** Modules that carry the flag (when known). */
  readonly modules: readonly string[];
}

/** Result of `classifyTaint`. */
export interface TaintClassification {
  /** The worst status of the reasons (`'pass'` when nothing is set). */
  readonly status: TaintStatus;
  /** One per set flag, in bit order. */
  readonly reasons: readonly TaintReason[];
  readonly value: number;
  readonly letters: string;
  /** Bits that were ignored as baseline (0 when none). */
  readonly baseline: number;
}

/** A module and its taint letters, as `readModuleTaints()` returns them. */
export interface ModuleLetters {
  readonly name: string;
  readonly letters: string;
}

/** What `classifyTaint` needs besides the state, for module rules and baselines. */
export interface ClassifyContext {
  /** Loaded modules with their taint letters; needed by `allow` rules with `modules`. */
  modules?: readonly ModuleLetters[];
  /** The state or value to treat as baseline when the policy says `'start'` or `onlyNewSinceBoot`. */
  baseline?: TaintState | number | null;
}

const STATUSES: readonly TaintStatus[] = ['pass', 'warn', 'fail'];
const RANK: Record<TaintStatus, number> = { pass: 0, warn: 1, fail: 2 };
const CATEGORIES: readonly TaintCategory[] = ['hardware', 'stability', 'integrity', 'informational', 'unknown'];
const KEYS = new Set(['categories', 'flags', 'allow', 'baseline', 'onlyNewSinceBoot', 'description', '$schema']);

function policyError(where: string, message: string, cause?: unknown): KernelTaintError {
  return new KernelTaintError('ERR_KERNEL_TAINT_INVALID_POLICY', `invalid taint policy: ${where}: ${message}`, {
    cause,
  });
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// A selector must name a flag in at least one profile: a policy written for
// RHEL may name TECH_PREVIEW, which mainline does not define.
function checkSelector(sel: unknown, where: string): FlagSelector {
  if (typeof sel !== 'number' && typeof sel !== 'string') {
    throw policyError(where, `expected a bit, letter or flag name, got ${JSON.stringify(sel)}`);
  }
  let firstError: unknown;
  for (const id of PROFILE_IDS) {
    try {
      resolveIn(sel, profileTable(id));
      return sel;
    } catch (e) {
      firstError ??= e;
    }
  }
  throw policyError(where, `${JSON.stringify(sel)} names no taint flag in any profile`, firstError);
}

function checkStatus(v: unknown, where: string): TaintStatus {
  if (typeof v === 'string' && (STATUSES as readonly string[]).includes(v)) return v as TaintStatus;
  throw policyError(where, `expected "pass", "warn" or "fail", got ${JSON.stringify(v)}`);
}

function checkModuleName(v: unknown, where: string): string {
  if (typeof v !== 'string' || !/^[A-Za-z0-9_*-]{1,64}$/.test(v)) {
    throw policyError(where, `expected a module name (letters, digits, _ - *), got ${JSON.stringify(v)}`);
  }
  return v;
}

const validated = new WeakSet<object>();

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * Validates a policy given as parsed JSON (or JSON text) and returns a frozen
 * copy. Unknown keys, unknown flags, bad statuses and bad module names throw a
 * `KernelTaintError` with code `ERR_KERNEL_TAINT_INVALID_POLICY` naming the
 * offending field, so a typo in a config file fails loudly.
 *
 * @example
 * const policy = parseTaintPolicy('{"allow":[{"flag":"O","modules":["zfs"]}]}');
 * classifyTaint(readTaint(), policy, { modules: readModuleTaints() }).status; // 'pass' | 'warn' | 'fail'
 */
export function parseTaintPolicy(input: unknown): TaintPolicy {
  let json = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (e) {
      throw policyError('(text)', `not JSON: ${(e as Error).message}`, e);
    }
  }
  if (!isPlainObject(json)) throw policyError('(root)', 'expected a JSON object');
  for (const k of Object.keys(json)) {
    if (!KEYS.has(k)) throw policyError(k, `unknown key (expected one of ${[...KEYS].join(', ')})`);
  }
  const out: TaintPolicy = {};
  if (json.categories !== undefined) {
    if (!isPlainObject(json.categories)) throw policyError('categories', 'expected an object');
    const c: Partial<Record<TaintCategory, TaintStatus>> = {};
    for (const [k, v] of Object.entries(json.categories)) {
      if (!(CATEGORIES as readonly string[]).includes(k)) {
        throw policyError(`categories.${k}`, `unknown category (expected one of ${CATEGORIES.join(', ')})`);
      }
      c[k as TaintCategory] = checkStatus(v, `categories.${k}`);
    }
    out.categories = c;
  }
  if (json.flags !== undefined) {
    if (!isPlainObject(json.flags)) throw policyError('flags', 'expected an object');
    const f: Record<string, TaintStatus> = {};
    for (const [k, v] of Object.entries(json.flags)) {
      checkSelector(k, `flags.${k}`);
      f[k] = checkStatus(v, `flags.${k}`);
    }
    out.flags = f;
  }
  if (json.allow !== undefined) {
    if (!Array.isArray(json.allow)) throw policyError('allow', 'expected an array');
    out.allow = json.allow.map((r: unknown, i): FlagSelector | TaintAllowRule => {
      const where = `allow[${i}]`;
      if (!isPlainObject(r)) return checkSelector(r, where);
      for (const k of Object.keys(r)) {
        if (k !== 'flag' && k !== 'modules' && k !== 'reason') throw policyError(`${where}.${k}`, 'unknown key');
      }
      const rule: TaintAllowRule = { flag: checkSelector(r.flag, `${where}.flag`) };
      if (r.modules !== undefined) {
        if (!Array.isArray(r.modules) || r.modules.length === 0) {
          throw policyError(`${where}.modules`, 'expected a non-empty array of module names');
        }
        rule.modules = r.modules.map((m: unknown, j) => checkModuleName(m, `${where}.modules[${j}]`));
      }
      if (r.reason !== undefined) {
        if (typeof r.reason !== 'string') throw policyError(`${where}.reason`, 'expected a string');
        rule.reason = r.reason;
      }
      return rule;
    });
  }
  if (json.baseline !== undefined) {
    const b = json.baseline;
    if (b === 'start') out.baseline = 'start';
    else if (Array.isArray(b)) out.baseline = b.map((s: unknown, i) => checkSelector(s, `baseline[${i}]`));
    else if (typeof b === 'number' || typeof b === 'string') {
      try {
        out.baseline = toTaintValue(b);
      } catch (e) {
        throw policyError(
          'baseline',
          `expected "start", a taint value or a list of flags, got ${JSON.stringify(b)}`,
          e,
        );
      }
    } else throw policyError('baseline', `expected "start", a taint value or a list of flags`);
  }
  if (json.onlyNewSinceBoot !== undefined) {
    if (typeof json.onlyNewSinceBoot !== 'boolean') throw policyError('onlyNewSinceBoot', 'expected true or false');
    out.onlyNewSinceBoot = json.onlyNewSinceBoot;
  }
  if (json.description !== undefined) {
    if (typeof json.description !== 'string') throw policyError('description', 'expected a string');
    out.description = json.description;
  }
  deepFreeze(out);
  validated.add(out);
  return out;
}

/**
 * Reads and validates a policy file (JSON).
 *
 * @example
 * const policy = loadTaintPolicy('/etc/kernel-taint/policy.json');
 */
export function loadTaintPolicy(file: string): TaintPolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw policyError(file, (e as Error).message, e);
  }
  try {
    return parseTaintPolicy(text);
  } catch (e) {
    if (e instanceof KernelTaintError) {
      throw new KernelTaintError(e.code, `${file}: ${e.message}`, { cause: e.cause });
    }
    throw e;
  }
}

/** Whether the policy needs a runtime baseline (`'start'` or `onlyNewSinceBoot`). */
export function policyNeedsBaseline(policy: TaintPolicy | undefined): 'start' | 'boot' | null {
  if (policy?.onlyNewSinceBoot) return 'boot';
  if (policy?.baseline === 'start') return 'start';
  return null;
}

function moduleMatcher(patterns: readonly string[]): (name: string) => boolean {
  const norm = (s: string) => s.replace(/-/g, '_');
  const res = patterns.map(
    (p) =>
      new RegExp(
        `^${norm(p)
          .replace(/[.+?^${}()|[\]\\]/g, '\\$&')
          .replace(/\*/g, '.*')}$`,
      ),
  );
  return (name) => res.some((r) => r.test(norm(name)));
}

function fixedBaselineMask(policy: TaintPolicy, state: TaintState): number {
  const b = policy.baseline;
  if (b === undefined || b === 'start') return 0;
  if (typeof b === 'number') return b >>> 0;
  if (typeof b === 'string') return toTaintValue(b);
  const table = profileTable(state.profile);
  let mask = 0;
  for (const sel of b) {
    try {
      mask |= 1 << resolveIn(sel, table);
    } catch {
      // Named in another profile only: nothing to ignore here.
    }
  }
  return mask >>> 0;
}

function resolveOr(sel: FlagSelector, state: TaintState): number | null {
  try {
    return resolveIn(sel, profileTable(state.profile));
  } catch {
    return null;
  }
}

function reasonFor(
  flag: TaintFlag,
  status: TaintStatus,
  rule: TaintReason['rule'],
  message: string,
  modules: readonly string[],
): TaintReason {
  return Object.freeze({
    bit: flag.bit,
    letter: flag.letter,
    name: flag.name,
    category: flag.category,
    status,
    rule,
    message,
    modules: Object.freeze([...modules]),
  });
}

/**
 * Classifies a taint state as `pass`, `warn` or `fail` under a policy, with
 * one reason per set flag. The default policy maps categories: hardware and
 * stability fail, integrity and unknown bits warn, informational passes.
 *
 * @example
 * classifyTaint(decodeTaint(4096)).status;                     // 'warn' (O is an integrity flag)
 * classifyTaint(decodeTaint(512)).status;                      // 'fail' (W: the kernel warned)
 * classifyTaint(decodeTaint(4096), { allow: [{ flag: 'O', modules: ['zfs'] }] },
 *   { modules: [{ name: 'zfs', letters: 'PO' }] }).status;     // 'pass'
 */
export function classifyTaint(
  state: TaintState,
  policy: TaintPolicy = {},
  context: ClassifyContext = {},
): TaintClassification {
  const st = state as Partial<TaintState> | null;
  if (typeof st !== 'object' || st === null || typeof st.value !== 'number' || !Array.isArray(st.flags)) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `classifyTaint needs a TaintState (from readTaint or decodeTaint), got ${describeValue(state)}`,
    );
  }
  if (typeof context !== 'object' || context === null) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `classifyTaint context must be an object, got ${describeValue(context)}`,
    );
  }
  const p = validated.has(policy) ? policy : parseTaintPolicy(policy);
  let baseline = fixedBaselineMask(p, state);
  if (policyNeedsBaseline(p) !== null && context.baseline !== undefined && context.baseline !== null) {
    baseline |= typeof context.baseline === 'number' ? context.baseline : context.baseline.value;
  }
  baseline >>>= 0;
  const categories = { ...DEFAULT_CATEGORY_STATUS, ...p.categories };
  const flagStatus = new Map<number, TaintStatus>();
  for (const [sel, st] of Object.entries(p.flags ?? {})) {
    const bit = resolveOr(sel, state);
    if (bit !== null) flagStatus.set(bit, st);
  }
  const reasons: TaintReason[] = [];
  for (const f of state.flags) {
    const carriers = (context.modules ?? []).filter((m) => m.letters.includes(f.letter)).map((m) => m.name);
    if (((baseline >>> f.bit) & 1) === 1) {
      reasons.push(reasonFor(f, 'pass', 'baseline', `${f.name} was already set at the baseline`, carriers));
      continue;
    }
    let allowed: TaintReason | null = null;
    let refused = '';
    for (const r of p.allow ?? []) {
      const rule: TaintAllowRule = typeof r === 'object' ? r : { flag: r };
      if (resolveOr(rule.flag, state) !== f.bit) continue;
      const why = rule.reason ? ` (${rule.reason})` : '';
      if (rule.modules === undefined) {
        allowed = reasonFor(f, 'pass', 'allow', `${f.name} is allowed by the policy${why}`, carriers);
        break;
      }
      if (context.modules === undefined) {
        refused = `; it is allowed only for ${rule.modules.join(', ')} but the loaded modules are unknown`;
        continue;
      }
      const ok = moduleMatcher(rule.modules);
      const others = carriers.filter((m) => !ok(m));
      if (carriers.length > 0 && others.length === 0) {
        allowed = reasonFor(
          f,
          'pass',
          'allow-modules',
          `${f.name} comes only from allowed modules: ${carriers.join(', ')}${why}`,
          carriers,
        );
        break;
      }
      refused =
        carriers.length === 0
          ? `; it is allowed only for ${rule.modules.join(', ')} but no loaded module carries it`
          : `; it is allowed only for ${rule.modules.join(', ')} but also comes from ${others.join(', ')}`;
    }
    if (allowed) {
      reasons.push(allowed);
      continue;
    }
    const fromModules = carriers.length > 0 ? ` (from ${carriers.join(', ')})` : '';
    const own = flagStatus.get(f.bit);
    if (own !== undefined) {
      reasons.push(
        reasonFor(f, own, 'flag', `${f.name}${fromModules}: ${own} by the policy's flag rule${refused}`, carriers),
      );
    } else {
      const st = categories[f.category];
      reasons.push(
        reasonFor(f, st, 'category', `${f.name}${fromModules}: ${f.category} flag, ${st}${refused}`, carriers),
      );
    }
  }
  for (const l of state.unknownLetters) {
    const st = categories.unknown;
    reasons.push(
      Object.freeze({
        bit: null,
        letter: l,
        name: `letter ${l}`,
        category: 'unknown',
        status: st,
        rule: 'category',
        message: `letter ${l} is not defined by profile ${state.profile}: unknown flag, ${st}`,
        modules: Object.freeze([]),
      } satisfies TaintReason),
    );
  }
  let status: TaintStatus = 'pass';
  for (const r of reasons) if (RANK[r.status] > RANK[status]) status = r.status;
  return Object.freeze({
    status,
    reasons: Object.freeze(reasons),
    value: state.value,
    letters: state.letters,
    baseline,
  });
}
