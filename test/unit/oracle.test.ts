// Every string real kernels printed (booted in QEMU) must come out of
// formatTaint byte for byte and parse back to the value written.
import { describe, expect, it } from 'vitest';
import { formatTaint, parseTaint } from '../../lib/index.js';
import { referenceFile } from '../helpers/reference.js';

const rows = referenceFile('kernel-oracle.tsv')
  .split('\n')
  .filter((l) => l && !l.startsWith('#'))
  .map((l) => {
    const [kernel, value, kind, ...text] = l.split('\t');
    return { kernel, value: Number(value), kind, text: text.join('\t') };
  });

describe('kernel oracle', () => {
  it('has rows for 6.1, 6.12 and 7.2', () => {
    expect(new Set(rows.map((r) => r.kernel))).toEqual(new Set(['6.1.0', '6.12.107', '7.2.13']));
    expect(rows.length).toBeGreaterThan(90);
  });

  it.each(rows.map((r) => [`${r.kernel} ${r.kind} ${r.value}`, r] as const))('%s', (_name, r) => {
    const verbose = r.kind === 'verbose';
    expect(formatTaint(r.value, { kernel: r.kernel, verbose })).toBe(r.text);
    const parsed = parseTaint(r.text);
    expect(parsed).not.toBeNull();
    expect(parsed?.value).toBe(r.value);
    expect(parsed?.unknownLetters).toEqual([]);
  });

  it('prints one position char per defined bit: 19 on 6.1 and 6.12, 20 on 7.2', () => {
    const width = (k: string) => formatTaint(1, { kernel: k }).length - 'Tainted: '.length;
    expect(width('6.1.0')).toBe(19);
    expect(width('6.12.107')).toBe(19);
    expect(width('6.14.0')).toBe(19);
    expect(width('6.15.0')).toBe(20);
    expect(width('7.2.13')).toBe(20);
  });
});
