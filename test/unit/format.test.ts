import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTaint, formatTaint, parseTaint, parseTaintLog } from '../../lib/index.js';

const KERNELS = [
  '2.6.12',
  '2.6.24',
  '2.6.32',
  '3.2.0',
  '3.10.0',
  '4.4.0',
  '4.15.0',
  '4.19.0',
  '5.10.0',
  '6.1.0',
  '6.12.0',
  '6.15.0',
  '7.2.13',
];

describe('formatTaint', () => {
  it('derives the width of old kernels from when each bit appeared', () => {
    const width = (k: string) => formatTaint(1, { kernel: k }).length - 'Tainted: '.length;
    expect(KERNELS.map(width)).toEqual([6, 8, 11, 13, 13, 16, 17, 18, 18, 19, 19, 20, 20]);
  });

  it('matches real old-kernel headers', () => {
    // Seen in real oops lines (test/fixtures/oops-lines.tsv).
    expect(formatTaint(1 | (1 << 12), { kernel: '3.2.0-25-generic' })).toBe('Tainted: P           O');
    expect(formatTaint(1 << 9, { kernel: '3.10.0' })).toBe('Tainted: G        W   ');
    expect(formatTaint((1 << 9) | (1 << 29), { kernel: '4.18.0-173.el8.x86_64' })).toBe(
      'Tainted: G        W        --------- -t -',
    );
    expect(formatTaint(1 << 29, { kernel: '2.6.32-131.0.15.el6.x86_64' })).toBe(
      'Tainted: G           ---------------- T',
    );
  });

  it('prints Not tainted only for 0: any other mask is Tainted, as print_tainted() does', () => {
    expect(formatTaint(0, { kernel: '6.1.0' })).toBe('Not tainted');
    // A bit the release does not define still makes the kernel print its position string.
    expect(formatTaint(1 << 19, { kernel: '6.1.0' })).toBe(`Tainted: G${' '.repeat(18)}`);
    expect(formatTaint(2 ** 20, { kernel: '6.15.0' })).toBe(`Tainted: G${' '.repeat(19)}`);
    expect(formatTaint(2 ** 31, { kernel: '7.2.13' })).toBe(`Tainted: G${' '.repeat(19)}`);
    expect(formatTaint(2 ** 20, { kernel: '7.2.13', verbose: true })).toBe('Tainted: ');
    expect(formatTaint(1 << 19, { kernel: '6.15.0' })).toBe('Tainted: G                  J');
    expect(formatTaint((1 << 19) | 1, { kernel: '6.14.0' })).toBe('Tainted: P                  ');
    // What the kernel prints for such masks parses back as tainted, its value unknown.
    const s = parseTaint(`CPU: 0 PID: 1 Comm: t ${formatTaint(2 ** 20, { kernel: '6.15.0' })} 6.15.0 #1`);
    expect(s).toMatchObject({ tainted: true, unknownValue: true, value: 0 });
  });

  it('prints SUSE bit 31 after the mainline positions, in the era the release belongs to', () => {
    const sle15sp4 = '5.14.21-150400.24.11-default';
    expect(formatTaint(2 ** 31, { kernel: sle15sp4 })).toBe(`Tainted: G${' '.repeat(17)}n`);
    expect(formatTaint(2 ** 31 + 1, { kernel: sle15sp4 })).toBe(`Tainted: P${' '.repeat(17)}n`);
    // 5.14 prints 18 mainline positions (X is bit 16, T bit 17), then n.
    expect(formatTaint(2 ** 31 + 2 ** 16, { kernel: sle15sp4 })).toBe(`Tainted: G${' '.repeat(15)}X n`);
    // SLE 12 SP5 (4.12): N at bit 30 and X at bit 31, both after the 16 mainline positions 4.12 prints.
    const sle12 = '4.12.14-122.37-default';
    expect(formatTaint(2 ** 30, { kernel: sle12 })).toBe(`Tainted: G${' '.repeat(15)}N `);
    expect(formatTaint(2 ** 31 + 1, { kernel: sle12 })).toBe(`Tainted: P${' '.repeat(15)} X`);
    // Parsing the same strings gives the values back, the era picked from the release.
    expect(parseTaint(`Comm: x Tainted: G${' '.repeat(15)}N  ${sle12} #1`)?.names).toEqual(['NO_SUPPORT']);
    expect(parseTaint(`Comm: x Tainted: G${' '.repeat(15)}N  ${sle12} #1`)?.value).toBe(2 ** 30);
    expect(parseTaint(`Comm: x Tainted: P${' '.repeat(15)} X ${sle12} #1`)?.value).toBe(2 ** 31 + 1);
    expect(parseTaint(`Comm: x Tainted: G${' '.repeat(17)}n ${sle15sp4} #1`)?.value).toBe(2 ** 31);
    expect(parseTaint(`Comm: x Tainted: G${' '.repeat(17)}n ${sle15sp4} #1`)?.profile).toBe('suse');
  });

  it('formats RHEL 10: p at 26, h at 27, u at 31, pads unused bits with -', () => {
    const el10 = '6.12.0-55.9.1.el10_0.x86_64';
    const text = formatTaint(2 ** 26 + 2 ** 27 + 2 ** 31 + 2 ** 9, { kernel: el10 });
    expect(text).toBe(`Tainted: G        W          ------ph---u`);
    expect(parseTaint(`Comm: x ${text} ${el10} #1`)?.names).toEqual([
      'WARN',
      'PARTNER_SUPPORTED',
      'HARDWARE_UNSUPPORTED',
      'UNPRIVILEGED_BPF',
    ]);
    expect(formatTaint(2 ** 26, { kernel: el10, verbose: true })).toBe('Tainted: [p]=PARTNER_SUPPORTED');
  });

  it('defaults to the newest mainline kernel', () => {
    expect(formatTaint(1 << 19)).toBe('Tainted: G                  J');
    expect(formatTaint(1 << 19, { verbose: true })).toBe('Tainted: [J]=FWCTL');
  });

  it('cuts the verbose line at 303 characters on 6.12 and prints it whole on 7.2', () => {
    const all = 0b111_1111_1111_1111_1111;
    const cut = formatTaint(all, { kernel: '6.12.107', verbose: true });
    const whole = formatTaint(all, { kernel: '7.2.13', verbose: true });
    expect(cut).toHaveLength(303);
    expect(whole.startsWith(cut)).toBe(true);
    expect(whole.endsWith('[N]=TEST')).toBe(true);
    expect(formatTaint(0xfffff, { kernel: '7.2.13', verbose: true }).endsWith(', [J]=FWCTL')).toBe(true);
  });

  it('refuses the verbose line for kernels before 6.11', () => {
    expect(() => formatTaint(1, { kernel: '6.10.0', verbose: true })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_NO_VERBOSE' }),
    );
  });

  it('rejects a release it cannot read and bad values', () => {
    expect(() => formatTaint(1, { kernel: 'banana' })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
    expect(() => formatTaint(-1)).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE' }));
  });
});

describe('round trips (property)', () => {
  const u32 = fc.integer({ min: 0, max: 0xffff_ffff });
  const kernel = fc.constantFrom(...KERNELS);

  it('decode keeps every bit, bit 31 included', () => {
    fc.assert(
      fc.property(u32, (v) => {
        const s = decodeTaint(v);
        expect(s.value).toBe(v);
        expect(s.flags.length).toBe(v.toString(2).replace(/0/g, '').length);
        expect(s.flags.reduce((acc, f) => (acc | (1 << f.bit)) >>> 0, 0)).toBe(v);
        expect(decodeTaint(String(v)).value).toBe(v);
        expect(decodeTaint(BigInt(v)).value).toBe(v);
      }),
      { numRuns: 2000 },
    );
  });

  it('parse(format(v)) gives back the bits the kernel prints', () => {
    fc.assert(
      fc.property(u32, kernel, (v, k) => {
        const text = formatTaint(v, { kernel: k });
        const width = text === 'Not tainted' ? 0 : text.length - 'Tainted: '.length;
        const mask = width >= 32 ? 0xffff_ffff : 2 ** width - 1;
        const expected = (v & mask) >>> 0;
        expect(parseTaint(`CPU: 0 PID: 1 Comm: t ${text} ${k} #1`)?.value).toBe(expected);
        if (k.startsWith('7.')) expect(parseTaint(formatTaint(v, { kernel: k, verbose: true }))?.value).toBe(expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('parse(format(v)) round-trips on RHEL 8 kernels too', () => {
    fc.assert(
      fc.property(u32, (v) => {
        const release = '4.18.0-553.el8_10.x86_64';
        const defined = decodeTaint(v, { profile: 'rhel8' }).flags.filter(
          (f) => (f.known && f.bit < 18) || [27, 29, 30].includes(f.bit),
        );
        const expected = defined.reduce((a, f) => (a | (1 << f.bit)) >>> 0, 0);
        expect(parseTaint(`Tainted: ${formatTaint(v, { kernel: release }).slice(9)} ${release} #1`)?.value).toBe(
          expected,
        );
      }),
      { numRuns: 1000 },
    );
  });

  const anyCodePoint = fc
    .integer({ min: 0, max: 0x10ffff - 0x800 })
    .map((n) => String.fromCodePoint(n < 0xd800 ? n : n + 0x800));
  it('never throws or hangs on garbage', () => {
    const noise = fc.oneof(
      fc.string({ maxLength: 400 }),
      // Any code point (what unit: 'binary' draws), built from an integer: fast-check's
      // 'binary' unit spends ~3 s on its first use mapping all 1.1M code points.
      fc.string({ unit: anyCodePoint, maxLength: 400 }),
      fc
        .array(
          fc.constantFrom(
            'Tainted: ',
            '[',
            ']=',
            ', ',
            'G',
            'P',
            ' ',
            '-',
            '\r\n',
            'Not tainted',
            'Modules linked in: ',
            '(',
            ')',
            'x',
            '6.1.0',
            '\t',
          ),
          { maxLength: 200 },
        )
        .map((a) => a.join('')),
    );
    fc.assert(
      fc.property(noise, (text) => {
        const t0 = performance.now();
        const s = parseTaint(text);
        parseTaintLog(text);
        expect(performance.now() - t0).toBeLessThan(1000);
        if (s) expect(s.value).toBe(s.value >>> 0);
      }),
      { numRuns: 3000 },
    );
    const huge = `Tainted: ${'G '.repeat(200_000)}`;
    expect(() => parseTaint(huge)).not.toThrow();
  });
});
