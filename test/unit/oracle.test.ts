// Every string real kernels printed (booted in QEMU) must come out of
// formatTaint byte for byte and parse back to the value written.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatTaint, parseTaint, parseTaintLog } from '../../lib/index.js';
import { ROOT, referenceFile } from '../helpers/reference.js';

const oracleRows = (text: string) =>
  text
    .split('\n')
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [kernel, value, kind, ...rest] = l.split('\t');
      return { kernel, value: Number(value), kind, text: rest.join('\t') };
    });
type Row = ReturnType<typeof oracleRows>[number];

const rows = oracleRows(referenceFile('kernel-oracle.tsv'));
// The releases between the oracle's, captured by the real-kernel sweep
// (KT_CAPTURE_ORACLE=test/fixtures/kernel-oracle-sweep.tsv npm run test:kernel).
const sweep = oracleRows(readFileSync(join(ROOT, 'test/fixtures/kernel-oracle-sweep.tsv'), 'utf8'));

function reproduces(r: Row, all: Row[]) {
  const verbose = r.kind === 'verbose';
  expect(formatTaint(r.value, { kernel: r.kernel, verbose })).toBe(r.text);
  const parsed = parseTaint(r.text);
  expect(parsed).not.toBeNull();
  expect(parsed?.unknownLetters).toEqual([]);
  if (verbose && parseTaintLog(r.text).some((x) => x.truncated)) {
    // The kernel cut the line: the flags it still shows are set, and the header it printed
    // beside the line completes the value.
    expect((parsed!.value & ~r.value) >>> 0).toBe(0);
    const header = all.find((h) => h.kernel === r.kernel && h.value === r.value && h.kind === 'header');
    expect(header).toBeDefined();
    expect(parseTaint(`${header!.text}\n${r.text}`)?.value).toBe(r.value);
  } else {
    expect(parsed?.value).toBe(r.value);
  }
}

describe('kernel oracle', () => {
  it('has rows for 6.1, 6.12 and 7.2', () => {
    expect(new Set(rows.map((r) => r.kernel))).toEqual(new Set(['6.1.0', '6.12.107', '7.2.13']));
    expect(rows.length).toBeGreaterThan(90);
  });

  it.each(rows.map((r) => [`${r.kernel} ${r.kind} ${r.value}`, r] as const))('%s', (_name, r) => reproduces(r, rows));

  it('prints one position char per defined bit: 19 on 6.1 and 6.12, 20 on 7.2', () => {
    const width = (k: string) => formatTaint(1, { kernel: k }).length - 'Tainted: '.length;
    expect(width('6.1.0')).toBe(19);
    expect(width('6.12.107')).toBe(19);
    expect(width('6.14.0')).toBe(19);
    expect(width('6.15.0')).toBe(20);
    expect(width('7.2.13')).toBe(20);
  });
});

describe('kernel oracle sweep (6.16 to 7.3)', () => {
  it('has header and verbose rows for every release the sweep booted', () => {
    const kernels = new Set(sweep.map((r) => r.kernel.replace(/\.\d+$/, '')));
    expect(kernels).toEqual(new Set(['6.16', '6.17', '6.18', '6.19', '7.0', '7.1', '7.3']));
    for (const k of new Set(sweep.map((r) => r.kernel))) {
      expect(sweep.filter((r) => r.kernel === k && r.kind === 'header').length).toBeGreaterThan(20);
      expect(sweep.filter((r) => r.kernel === k && r.kind === 'verbose').length).toBeGreaterThan(20);
    }
  });

  it.each(sweep.map((r) => [`${r.kernel} ${r.kind} ${r.value}`, r] as const))('%s', (_name, r) => reproduces(r, sweep));

  it('cuts the verbose line at 319 characters from 6.15 to 7.0 and prints it whole from 7.1', () => {
    const longest = (k: string) =>
      Math.max(...sweep.filter((r) => r.kernel.startsWith(k) && r.kind === 'verbose').map((r) => r.text.length));
    for (const k of ['6.16.', '6.17.', '6.18.', '6.19.', '7.0.']) expect(longest(k)).toBe(319);
    const whole = formatTaint(0xfffff, { kernel: '7.1.0', verbose: true });
    expect(whole.length).toBeGreaterThan(319);
    for (const k of ['7.1.', '7.3.']) expect(longest(k)).toBe(whole.length);
  });
});
