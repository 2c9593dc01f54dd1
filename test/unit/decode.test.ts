import { describe, expect, it } from 'vitest';
import {
  decodeTaint,
  formatTaint,
  MAINLINE_FLAG_COUNT,
  parseTaint,
  resolveFlag,
  TAINT_FLAGS,
} from '../../lib/index.js';

describe('decodeTaint', () => {
  it('decodes a clean kernel', () => {
    const s = decodeTaint(0);
    expect(s).toMatchObject({ value: 0, tainted: false, letters: '', names: [], unknownBits: [] });
    expect(s.flags).toEqual([]);
    expect(String(s)).toBe('Not tainted');
  });

  it('decodes set bits in bit order with letters, names and descriptions', () => {
    const s = decodeTaint(12289);
    expect(s.letters).toBe('POE');
    expect(s.names).toEqual(['PROPRIETARY_MODULE', 'OOT_MODULE', 'UNSIGNED_MODULE']);
    expect(s.flags.map((f) => f.bit)).toEqual([0, 12, 13]);
    expect(s.flags.every((f) => f.known && f.description.length > 40)).toBe(true);
    expect(s.flags[1]).toMatchObject({ letter: 'O', category: 'integrity', module: true, since: '3.2.0' });
    expect(String(s)).toBe('Tainted: [P]=PROPRIETARY_MODULE, [O]=OOT_MODULE, [E]=UNSIGNED_MODULE');
  });

  it('accepts numbers, bigints, decimal and hex strings', () => {
    expect(decodeTaint(4096n).letters).toBe('O');
    expect(decodeTaint('4096\n').letters).toBe('O');
    expect(decodeTaint('0x1000').letters).toBe('O');
  });

  it('keeps bit 31 and every undefined bit as unknown, unsigned', () => {
    const v = (2 ** 31 + 2 ** 25 + 1) >>> 0;
    const s = decodeTaint(v);
    expect(s.value).toBe(2147483648 + 33554432 + 1);
    expect(s.unknownBits).toEqual([25, 31]);
    expect(s.letters).toBe('P??');
    expect(s.names).toEqual(['PROPRIETARY_MODULE', 'bit 25', 'bit 31']);
    expect(s.flags[2]).toMatchObject({ bit: 31, known: false, category: 'unknown', since: null });
    expect(decodeTaint(0xffff_ffff).flags).toHaveLength(32);
  });

  it('decodes vendor bits with their profile', () => {
    const v = ((1 << 29) | (1 << 30)) >>> 0;
    expect(decodeTaint(v, { profile: 'rhel8' }).names).toEqual(['TECH_PREVIEW', 'UNPRIVILEGED_BPF']);
    expect(decodeTaint(v, { profile: 'rhel8' }).letters).toBe('tu');
    expect(decodeTaint(v).unknownBits).toEqual([29, 30]);
    expect(decodeTaint(2 ** 31, { profile: 'suse' }).names).toEqual(['NO_SUPPORT']);
    expect(decodeTaint(2 ** 16, { profile: 'suse' }).names).toEqual(['EXTERNAL_SUPPORT']);
  });

  it.each([-1, 1.5, 2 ** 32, Number.NaN, 2n ** 32n, -1n, 'abc', '', '-5', '0x123456789', ' 12 3'])(
    'rejects %s',
    (v) => {
      expect(() => decodeTaint(v as never)).toThrow(
        expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE' }),
      );
    },
  );

  it('rejects an unknown profile with a typed error', () => {
    for (const call of [
      () => decodeTaint(1, { profile: 'windows' as never }),
      () => formatTaint(1, { profile: 'windows' as never }),
      () => parseTaint('Tainted: P', { profile: 'windows' as never }),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }));
    }
  });

  it('rejects values of the wrong type with a typed error', () => {
    expect(() => decodeTaint({} as never)).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }));
  });

  it('has() takes bits, letters, names with or without TAINT_, and aliases', () => {
    const s = decodeTaint(4 | 512);
    for (const sel of [
      2,
      'S',
      'CPU_OUT_OF_SPEC',
      'TAINT_CPU_OUT_OF_SPEC',
      'UNSAFE_SMP',
      'taint_unsafe_smp',
      'W',
      'WARN',
      9,
    ]) {
      expect(s.has(sel), String(sel)).toBe(true);
    }
    for (const sel of [0, 'P', 'OOT_MODULE', 'O', 31]) expect(s.has(sel), String(sel)).toBe(false);
    // A literal typo does not compile (test/types/flag-selectors.ts); a string from elsewhere throws.
    expect(() => s.has('NOT_A_FLAG' as string)).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_UNKNOWN_FLAG' }),
    );
    expect(() => s.has(32)).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_UNKNOWN_FLAG' }));
  });

  it('resolveFlag follows the profile', () => {
    expect(resolveFlag('T')).toBe(17);
    expect(resolveFlag('T', { profile: 'rhel7' })).toBe(29);
    expect(resolveFlag('t', { profile: 'rhel8' })).toBe(29);
    expect(resolveFlag('bit 23')).toBe(23);
  });

  it('serialises to JSON with every field', () => {
    const j = JSON.parse(JSON.stringify(decodeTaint(4097)));
    expect(j).toMatchObject({ value: 4097, tainted: true, letters: 'PO', profile: 'mainline' });
    expect(j.flags[0]).toMatchObject({ bit: 0, letter: 'P', name: 'PROPRIETARY_MODULE' });
  });

  it('states are immutable', () => {
    const s = decodeTaint(1);
    expect(Object.isFrozen(s)).toBe(true);
    expect(Object.isFrozen(s.flags)).toBe(true);
  });
});

describe('TAINT_FLAGS', () => {
  it('lists mainline bits 0-19 with unique letters and names', () => {
    const main = TAINT_FLAGS.filter((f) => f.profiles.includes('mainline'));
    expect(main.map((f) => f.bit)).toEqual([...Array(20).keys()]);
    expect(main.map((f) => f.letter).join('')).toBe('PFSRMBUDAWCIOELKXTNJ');
    expect(new Set(main.map((f) => f.name)).size).toBe(20);
    expect(MAINLINE_FLAG_COUNT).toBe(20);
  });

  it('describes every flag and gives it a category and a release', () => {
    for (const f of TAINT_FLAGS) {
      expect(f.description.length, f.name).toBeGreaterThan(40);
      expect(['hardware', 'stability', 'integrity', 'informational']).toContain(f.category);
      expect(f.since).toMatch(/^\d+\.\d+/);
    }
  });

  it('carries the vendor variants of bits 27-31 and marks Peios unreachable bits', () => {
    const at = (bit: number) =>
      TAINT_FLAGS.filter((f) => f.bit === bit).map((f) => `${f.letter}:${f.profiles.join('+')}`);
    expect(at(29)).toEqual(expect.arrayContaining(['T:rhel6+rhel7', 't:rhel8']));
    expect(at(31)).toEqual(expect.arrayContaining(['u:rhel9+rhel10', 'n:suse', 'X:suse-legacy']));
    expect(at(30)).toEqual(expect.arrayContaining(['u:rhel8', 'N:suse-legacy']));
    expect(at(26)).toEqual(['p:rhel10']);
    const peios = TAINT_FLAGS.filter((f) => f.unreachableIn.includes('peios')).map((f) => f.letter);
    expect(peios).toEqual(['F', 'R', 'K']);
  });
});
