// The verdict over taint reports (newest report wins, by position) and the
// severity of a state. Part of the core that \`kernel-taint\` loads at once; the
// parser that produces the reports (lib/parse.ts) loads on first use.
import { type StateExtra, stateOf } from './decode.js';
import { profileTable } from './flags.js';
import type { TaintLineKind, TaintReport } from './parse.js';
import type { ResolvedProfile, TaintState } from './types.js';

/** A verbose line belongs to the header at most this many lines above it. */
const VERBOSE_REACH = 4;

const PRIMARY = new Set<TaintLineKind>(['header', 'verbose', 'raw']);

/**
 * Folds reports, oldest first, into what the log says about the kernel: the
 * newest header, verbose or raw line wins; a verbose line completes or
 * overrides only the header of its own report (at most four lines above it,
 * with no other report between). A log with only module lines gives the union
 * of their letters. Memory stays constant whatever the number of reports.
 */
export class TaintVerdict {
  #count = 0;
  #newest: TaintReport | null = null;
  #previous: TaintReport | null = null;
  #secondary: { value: number; unknown: Set<string>; profile: ResolvedProfile } | null = null;
  #worst: TaintReport | null = null;

  /** How many reports were folded. */
  get reports(): number {
    return this.#count;
  }

  /** The newest primary report (header, verbose or raw line). */
  get newest(): TaintReport | null {
    return this.#newest;
  }

  /** The report with the most severe flags seen (stability/hardware over integrity over the rest). */
  get worst(): TaintReport | null {
    return this.#worst;
  }

  add(r: TaintReport): void {
    this.#count++;
    if (this.#worst === null || severity(r.state) > severity(this.#worst.state)) this.#worst = r;
    if (PRIMARY.has(r.kind)) {
      this.#previous = this.#newest;
      this.#newest = r;
      return;
    }
    const s = this.#secondary ?? { value: 0, unknown: new Set<string>(), profile: r.state.profile };
    s.value = (s.value | r.state.value) >>> 0;
    for (const l of r.state.unknownLetters) s.unknown.add(l);
    this.#secondary = s;
  }

  /** The state the log ends in, or null when it holds no taint information. */
  get state(): TaintState | null {
    const r = this.#newest;
    if (r === null) {
      const s = this.#secondary;
      return s ? stateOf(s.value, profileTable(s.profile), [...s.unknown]) : null;
    }
    const head = this.#previous;
    if (r.kind !== 'verbose' || head === null || head.kind !== 'header' || r.line - head.line > VERBOSE_REACH) {
      return r.state;
    }
    // The header of the same report: the verbose line names the flags, the header
    // completes what a cut line lost (bits above the last one it shows whole).
    const table = profileTable(r.state.profile);
    let value = r.state.value;
    const unknown = [...r.state.unknownLetters];
    if (r.truncated) {
      const lastBit = lastShownBit(r);
      value = (value | (head.state.value & ~(2 ** (lastBit + 1) - 1))) >>> 0;
      for (const l of head.state.unknownLetters) if (!unknown.includes(l)) unknown.push(l);
    }
    if (value === r.state.value && unknown.length === r.state.unknownLetters.length) return r.state;
    const extra: StateExtra = { unknownNames: r.state.unknownNames };
    return stateOf(value, table, unknown, extra);
  }
}

function lastShownBit(r: TaintReport): number {
  // The line lists flags in bit order and is cut only at its end: every bit up to
  // the highest one it shows is accounted for.
  return r.state.flags.at(-1)?.bit ?? -1;
}

/** How bad a state is, worst last: `hardware` and `stability` flags are both `stability`. */
export const TAINT_SEVERITIES = ['clean', 'informational', 'unknown', 'integrity', 'stability'] as const;
export type TaintSeverity = (typeof TAINT_SEVERITIES)[number];

/** The worst status a state reaches: clean < informational < unknown < integrity < stability/hardware. */
export function severityOf(s: TaintState): TaintSeverity {
  if (!s.tainted) return 'clean';
  let n = s.unknownLetters.length > 0 || s.unknownValue ? 2 : 1;
  for (const f of s.flags) {
    const k = f.category === 'hardware' || f.category === 'stability' ? 4 : f.category === 'integrity' ? 3 : 2;
    if (f.category !== 'informational') n = Math.max(n, k);
  }
  return TAINT_SEVERITIES[n];
}

function severity(s: TaintState): number {
  return TAINT_SEVERITIES.indexOf(severityOf(s));
}
