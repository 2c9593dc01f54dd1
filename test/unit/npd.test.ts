// `--format=npd`: the message node-problem-detector keeps (one line, at most
// 80 bytes, stdout trimmed and cut by bytes) and the exit status it maps
// (0 OK, 1 NonOK, 2 Unknown), for every value the real kernels printed.
import { describe, expect, it } from 'vitest';
import { decodeTaint } from '../../lib/decode.js';
import { PROFILE_IDS } from '../../lib/flags.js';
import { formatNpd, formatNpdError, NPD_MAX_MESSAGE_BYTES, npdMessage } from '../../lib/integrations/npd.js';
import { classifyTaint, parseTaintPolicy } from '../../lib/integrations/policy.js';
import { referenceFile } from '../helpers/reference.js';

const oracleValues = [
  ...new Set(
    referenceFile('kernel-oracle.tsv')
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => Number(l.split('\t')[1]))
      .filter((v) => Number.isInteger(v)),
  ),
];

function expectNpdLine(message: string, max = NPD_MAX_MESSAGE_BYTES) {
  expect(Buffer.byteLength(message)).toBeLessThanOrEqual(max);
  expect(message).toMatch(/^[\x20-\x7e]*$/);
  expect(message).toBe(message.trim());
  expect(message.length).toBeGreaterThan(0);
}

describe('formatNpd', () => {
  it('has real kernel values to check', () => {
    expect(oracleValues.length).toBeGreaterThan(20);
  });

  it('gives one line of at most 80 bytes and the status NPD maps, for every value the real kernels printed, every profile', () => {
    for (const profile of PROFILE_IDS) {
      for (const value of [...oracleValues, 0xffff_ffff]) {
        const state = decodeTaint(value, { profile });
        const c = classifyTaint(state, {});
        for (const failOn of ['fail', 'warn'] as const) {
          const r = formatNpd(c, { failOn });
          expectNpdLine(r.message);
          const nonOk = c.status === 'fail' || (failOn === 'warn' && c.status === 'warn');
          expect(r.exitCode).toBe(nonOk ? 1 : 0);
          expect(r.message.startsWith(`${c.status.toUpperCase()}: `)).toBe(true);
          expect(r.details).toHaveLength(c.reasons.length);
          if (value === 0) expect(r.message).toBe('PASS: kernel not tainted');
        }
      }
    }
  });

  it('names the letters, the value and the flags that decided', () => {
    const r = formatNpd(classifyTaint(decodeTaint(512 | 4096), {}));
    expect(r).toMatchObject({ exitCode: 1, message: 'FAIL: kernel tainted WO (4608): W WARN' });
    expect(r.details).toEqual([
      expect.stringMatching(/^\[W\] WARN \(stability\) fail: /),
      expect.stringMatching(/^\[O\] OOT_MODULE \(integrity\) warn: /),
    ]);
    const warn = formatNpd(classifyTaint(decodeTaint(4096 | 8192), {}));
    expect(warn).toMatchObject({
      exitCode: 0,
      message: 'WARN: kernel tainted OE (12288): O OOT_MODULE, E UNSIGNED_MODULE',
    });
    expect(formatNpd(classifyTaint(decodeTaint(4096), {}), { failOn: 'warn' }).exitCode).toBe(1);
    const allowed = formatNpd(classifyTaint(decodeTaint(4096), parseTaintPolicy({ allow: ['O'] })));
    expect(allowed).toMatchObject({ exitCode: 0, message: 'PASS: kernel tainted O (4096), all allowed' });
  });

  it('cuts a long flag list at 80 bytes with an ellipsis', () => {
    const r = formatNpd(
      classifyTaint(
        decodeTaint(0xffff_ffff),
        parseTaintPolicy({ categories: { integrity: 'fail', informational: 'fail', unknown: 'fail' } }),
      ),
    );
    expectNpdLine(r.message);
    expect(r.message.endsWith('...')).toBe(true);
    expect(r.message.length).toBe(80);
    expect(formatNpd(classifyTaint(decodeTaint(0xfffff), {}), { maxBytes: 20 }).message).toHaveLength(20);
  });
});

describe('npdMessage', () => {
  it('flattens lines and replaces non-ASCII so a byte cut cannot split a character', () => {
    expect(npdMessage('a\nb\r\n\tc')).toBe('a b c');
    expect(npdMessage('caf\u00e9 \u{1F4A5}')).toBe('caf? ??');
    expect(Buffer.byteLength(npdMessage('\u00e9'.repeat(500)))).toBe(80);
    expect(npdMessage('x'.repeat(80))).toBe('x'.repeat(80));
    expect(npdMessage('x'.repeat(81))).toBe(`${'x'.repeat(77)}...`);
    expect(npdMessage(`  ${'y'.repeat(10_000_000)}  `)).toHaveLength(80);
  });
});

describe('formatNpdError', () => {
  it('is Unknown (2) with the error code on one short line', () => {
    const e = Object.assign(new Error(`cannot read /nonexistent/${'deep/'.repeat(40)}tainted\nsecond line`), {
      code: 'ENOENT',
    });
    const r = formatNpdError(e);
    expect(r.exitCode).toBe(2);
    expectNpdLine(r.message);
    expect(r.message.startsWith('UNKNOWN: ENOENT: cannot read /nonexistent/')).toBe(true);
    expect(formatNpdError(new Error('plain')).message).toBe('UNKNOWN: plain');
    const sys = Object.assign(new Error("ENOENT: no such file or directory, open '/x'"), { code: 'ENOENT' });
    expect(formatNpdError(sys).message).toBe("UNKNOWN: ENOENT: no such file or directory, open '/x'");
  });
});
