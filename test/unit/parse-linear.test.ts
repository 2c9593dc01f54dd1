// Every scan of the parser must take time linear in its input. Each case feeds
// one pattern adversarial input two ways with the same total size (64 KB): as
// 64 lines of 1,000 characters and as 8 lines of 8,000 (the line cap is 8 KiB).
// Linear code takes the same time for both; quadratic code takes ~8x longer on
// the long lines, cubic ~64x (the old release pattern took 34-59 s on one 8 KB
// line). The ratio of times measured in the same run (the minimum of several
// rounds) is robust on a loaded machine where absolute times are not. That
// time grows linearly with the number of lines (50 MB vs 500 MB) is measured
// by `npm run bench:parse`.
import { describe, expect, it } from 'vitest';
import { decodeSupported, parseTaint, parseTaintLog } from '../../lib/parse.js';

const SHORT = 1000;
const LONG = 8000;
const TOTAL = 64_000;
// Linear is 1x; allow 3x noise on top. Quadratic (8x) and worse fail.
const MAX_RATIO = 3;

const CASES: [string, (n: number) => string][] = [
  ['digits and dots before Not tainted (the cubic release pattern)', (n) => `${'1.'.repeat(n / 2)} Not tainted`],
  ['digits and dots, then a build number, before Tainted:', (n) => `${'1.1'.repeat(n / 3)} #1 Tainted: G`],
  ['Modules linked in: aaaa...', (n) => `Modules linked in: ${'a'.repeat(n)}`],
  ['Modules linked in: with unclosed parens', (n) => `Modules linked in: ${'a('.repeat(n / 2)}`],
  ['Unloaded tainted modules: names and letters', (n) => `Unloaded tainted modules: ${'m(PO'.repeat(n / 4)}`],
  ['a long digit run after the flags', (n) => `CPU: 0 Comm: x Tainted: G ${'1'.repeat(n)}`],
  ['a release of thousands of characters', (n) => `Comm: x Tainted: G   W 1.${'1'.repeat(n)} #1`],
  ['a dash run in the flags field', (n) => `Tainted: ${'-'.repeat(n)}`],
  ['many one-letter tokens', (n) => `Tainted: ${'P '.repeat(n / 2)}`],
  ['garbage bytes in the field', (n) => `Comm: x Tainted: ${'\u0000\u00ff'.repeat(n / 2)}`],
  ['a comm of spaces', (n) => `Comm: ${'x '.repeat(n / 2)}Tainted: G  W 6.1.0 #1`],
  ['open parens before Not tainted', (n) => `${'('.repeat(n)}Not tainted`],
  ['many labels on one line', (n) => 'Tainted: '.repeat(n / 9)],
  ['a verbose line of many entries', (n) => `Tainted: ${'[W]=WARN, '.repeat(n / 10)}`],
  ['a verbose line with one huge name', (n) => `Tainted: [W]=${'W'.repeat(n)}`],
  ['kernel-chktaint digits', (n) => `Raw taint value as int/string: ${'9'.repeat(n)}/`],
  ['a Supported: line', (n) => `Supported: No, ${'Unsupported '.repeat(n / 12)}`],
];

function timeOf(fn: () => void, reps: number): number {
  const t = process.hrtime.bigint();
  for (let i = 0; i < reps; i++) fn();
  return Number(process.hrtime.bigint() - t);
}

/** Same total size: many short lines and few long ones, joined. */
function shapes(make: (n: number) => string): [string, string] {
  return [
    Array.from({ length: TOTAL / SHORT }, () => make(SHORT)).join('\n'),
    Array.from({ length: TOTAL / LONG }, () => make(LONG)).join('\n'),
  ];
}

/**
 * The ratio of the minimum times over rounds (long lines / short lines), with
 * the same repetitions. A busy machine (other test files run beside this one)
 * can stretch one measurement past the bound; a superlinear scan is slow on
 * every one, so an over-bound ratio is measured again, up to three times in all.
 */
function ratio(run: (text: string) => void, shapes: [string, string]): { ratio: number; bigMs: number } {
  let best = measure(run, shapes);
  for (let i = 0; i < 2 && best.ratio >= MAX_RATIO; i++) {
    const again = measure(run, shapes);
    if (again.ratio < best.ratio) best = again;
  }
  return best;
}

function measure(run: (text: string) => void, [a, b]: [string, string]): { ratio: number; bigMs: number } {
  let reps = 1;
  while (timeOf(() => run(a), reps) < 4e6 && reps < 1 << 12) reps *= 2;
  let s = Number.POSITIVE_INFINITY;
  let l = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 7; round++) {
    s = Math.min(
      s,
      timeOf(() => run(a), reps),
    );
    l = Math.min(
      l,
      timeOf(() => run(b), reps),
    );
  }
  return { ratio: l / s, bigMs: l / reps / 1e6 };
}

describe('the parser runs in linear time on adversarial input', () => {
  it.each(CASES)('%s', (_name, make) => {
    const { ratio: r, bigMs } = ratio((t) => parseTaintLog(t), shapes(make));
    expect(r, `8x longer lines took ${r.toFixed(1)}x the time (${bigMs.toFixed(3)} ms)`).toBeLessThan(MAX_RATIO);
    // And parseTaint() on the same text, which folds the reports.
    expect(() => parseTaint(make(LONG))).not.toThrow();
  });

  it('decodeSupported is linear too', () => {
    const make = (n: number) => `No, ${'Proprietary '.repeat(n / 12)}`;
    const { ratio: r } = ratio((t) => {
      for (const l of t.split('\n')) decodeSupported(l);
    }, shapes(make));
    expect(r).toBeLessThan(MAX_RATIO);
  });
});
