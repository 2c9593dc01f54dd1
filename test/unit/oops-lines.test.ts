// Real taint lines copied from public crash reports: each must parse to the
// letters it shows. The expected letters are read here with a deliberately
// simple, separate method (cut the flags field out by its delimiters), not
// with the library's tokenizer.
import { describe, expect, it } from 'vitest';
import { decodeTaint, parseTaint, parseTaintLog } from '../../lib/index.js';
import { referenceFile, tsvRows } from '../helpers/reference.js';

const rows = tsvRows(referenceFile('oops-lines.tsv'));

function sorted(s: Iterable<string>): string {
  return [...s].sort().join('');
}

/** Letters a human reads off the line. */
function lettersShown(kind: string, line: string): string {
  if (kind === 'verbose') return sorted([...line.matchAll(/\[(.)\]=/g)].map((m) => m[1]));
  if (kind === 'modules' || kind === 'unloaded') {
    const set = new Set<string>();
    for (const m of line.matchAll(/\w\(([A-Za-z+-]*)\)/g)) for (const c of m[1].replace(/[+-]/g, '')) set.add(c);
    return sorted(set);
  }
  const raw = /Raw taint value as int\/string: \d+\/'([^']*)'/.exec(line);
  if (raw) return sorted(raw[1].replace(/[\sG-]/g, ''));
  const at = line.indexOf('Tainted:');
  if (at < 0) return '';
  let field = line.slice(at + 'Tainted:'.length);
  // The field ends where the release, a bracket or a word begins.
  const end = field.search(/[\d([)\]:#]|syzkaller/);
  if (end >= 0) field = field.slice(0, end);
  return sorted(field.replace(/[\sG-]/g, ''));
}

describe('oops lines from public crash reports', () => {
  it('holds a few hundred lines of every kind', () => {
    expect(rows.length).toBeGreaterThan(300);
    expect(new Set(rows.map((r) => r.kind))).toEqual(new Set(['header', 'verbose', 'modules', 'unloaded', 'other']));
  });

  it.each(rows.map((r, i) => [`${i + 2}: ${r.kind} ${r.line.slice(0, 90)}`, r] as const))('%s', (_n, r) => {
    const state = parseTaint(r.line);
    expect(state, 'every line carries taint information').not.toBeNull();
    if (!state) return;
    const got = sorted([...state.letters.replace(/\?/g, ''), ...state.unknownLetters]);
    expect(got).toBe(lettersShown(r.kind, r.line));
    if (/Not tainted/.test(r.line) && !/Tainted:/.test(r.line)) expect(state.tainted).toBe(false);
    const raw = /Raw taint value as int\/string: (\d+)/.exec(r.line);
    if (raw) expect(state.value).toBe(Number(raw[1]));
  });

  it('reads RHEL letters with the RHEL profile picked from the release', () => {
    const rhel8 = parseTaint(
      'CPU: 28 PID: 6388 Comm: kworker/28:2 Tainted: G        W        --------- -t - 4.18.0-173.el8.x86_64 #1',
    );
    expect(rhel8?.profile).toBe('rhel8');
    expect(rhel8?.names).toEqual(['WARN', 'TECH_PREVIEW']);
    expect(rhel8?.value).toBe(((1 << 9) | (1 << 29)) >>> 0);
    const rhel6 = parseTaint(
      'Pid: 2000, comm: echo Tainted: G           ---------------- T 2.6.32-131.0.15.el6.x86_64 #1',
    );
    expect(rhel6?.profile).toBe('rhel6');
    expect(rhel6?.names).toEqual(['TECH_PREVIEW']);
    // The same letter on a mainline kernel is RANDSTRUCT (bit 17).
    expect(parseTaint('Tainted: G                T  6.11.0 #1')?.names).toEqual(['RANDSTRUCT']);
  });

  it('keeps a letter no profile defines as unknown, never throws', () => {
    const s = parseTaint('CPU: 0 PID: 1 Comm: x Tainted: G    Z  W  6.6.0 #1');
    expect(s?.unknownLetters).toEqual(['Z']);
    expect(s?.names).toEqual(['WARN']);
    expect(s?.tainted).toBe(true);
  });

  it('prefers the verbose line and completes a cut one from its header', () => {
    const full = decodeTaint(0b1111_1111_1111_1111_1111);
    const log = [
      'CPU: 1 UID: 0 PID: 7 Comm: sh Tainted: PFSRMBUDAWCIOELKXTN  6.12.1 #1',
      // 6.12 cuts the verbose line at 303 characters.
      full.toString().slice(0, 303),
      'Hardware name: QEMU Standard PC',
    ].join('\r\n');
    const s = parseTaint(log);
    expect(s?.value).toBe(0b111_1111_1111_1111_1111);
    const reports = parseTaintLog(log);
    expect(reports.map((r) => r.kind)).toEqual(['header', 'verbose']);
    expect(reports[1].truncated).toBe(true);
    expect(reports[0].release).toBe('6.12.1');
    expect(reports[0].comm).toBe('sh');
  });

  it('takes the newest report of a whole pasted log, and module letters with their modules', () => {
    const log = [
      '[  1.0] CPU: 0 PID: 1 Comm: a Tainted: G           O       6.1.0 #1',
      '[  2.0] Modules linked in: foo(POE) bar baz(C+) [last unloaded: qux(K)]',
      '[  3.0] CPU: 0 PID: 1 Comm: b Tainted: P        W  OE      6.1.0 #1',
    ].join('\n');
    expect(parseTaint(log)?.letters).toBe('PWOE');
    const mods = parseTaintLog(log)[1];
    expect(mods.kind).toBe('modules');
    expect(mods.modules).toEqual([
      { name: 'foo', letters: 'POE' },
      { name: 'baz', letters: 'C' },
      { name: 'qux', letters: 'K' },
    ]);
    expect(parseTaint('Modules linked in: foo(POE) bar')?.letters).toBe('POE');
  });

  it('returns null for text without taint information', () => {
    expect(parseTaint('')).toBeNull();
    expect(parseTaint('hello world\nnothing here')).toBeNull();
  });
});
