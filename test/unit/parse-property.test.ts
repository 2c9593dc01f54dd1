// Property: a random log assembled from real report lines (test/fixtures/oops-lines.tsv,
// copied from public crash reports) among real kernel chatter parses to the state of
// its last report, whatever came before it, as a string and as a stream cut anywhere.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseTaint, parseTaintStream } from '../../lib/parse.js';
import type { TaintState } from '../../lib/types.js';
import { ROOT, referenceFile, tsvRows } from '../helpers/reference.js';

const rows = tsvRows(referenceFile('oops-lines.tsv'));
const headers = rows.filter((r) => r.kind === 'header').map((r) => r.line);
const verbose = rows.filter((r) => r.kind === 'verbose').map((r) => r.line);
const modules = rows.filter((r) => r.kind === 'modules' || r.kind === 'unloaded').map((r) => r.line);

// Kernel lines without taint information: the real-kernel guest logs, plus lines that
// mention taint in prose or in quoted values.
const GUEST_LOG = join(ROOT, '..', 'shared', 'reference', 'attribution', 'qemu-bookworm.log2.txt');
const guestLog = (existsSync(GUEST_LOG) ? readFileSync(GUEST_LOG, 'utf8') : '')
  .split('\n')
  .filter((l) => /^\[ *\d/.test(l) && !/ainted|Modules linked in/.test(l));
const chatter = [
  ...guestLog,
  '[    0.000000] Linux version 6.1.0-57-cloud-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0)',
  '[    0.412345] ACPI: PM-Timer IO Port: 0x608',
  '[   11.003336] Disabling lock debugging due to kernel taint',
  '[   11.006399] kt_prop: module verification failed: signature and/or required key missing - tainting kernel',
  'audit: type=1400 audit(1700000000.123:42): apparmor="DENIED" comm="Tainted: PO" name="/x"',
  'The kernel is Tainted: yes',
  '[   12.046690] RIP: 0010:kt_warn_init+0x11/0x1000 [kt_warn]',
];

interface Piece {
  line: string;
  primary: boolean;
}

// Five or more chatter lines between reports: a verbose line never sits next to another
// report's header, so each report stands alone.
const gap = fc.array(fc.constantFrom(...chatter), { minLength: 5, maxLength: 12 });
const reportLine = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...headers).map((line): Piece => ({ line, primary: true })) },
  { weight: 2, arbitrary: fc.constantFrom(...verbose).map((line): Piece => ({ line, primary: true })) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: 2 ** 20 - 1 }).map(
      (v): Piece => ({
        line: `Raw taint value as int/string: ${v}/'G'`,
        primary: true,
      }),
    ),
  },
  { weight: 2, arbitrary: fc.constantFrom(...modules).map((line): Piece => ({ line, primary: false })) },
);
const log = fc
  .tuple(fc.array(fc.tuple(gap, reportLine), { minLength: 1, maxLength: 12 }), gap, fc.constantFrom('\n', '\r\n'))
  .filter(([parts]) => parts.some(([, p]) => p.primary))
  .map(([parts, tail, eol]) => {
    const lines: string[] = [];
    for (const [g, p] of parts) lines.push(...g, p.line);
    lines.push(...tail);
    const last = parts.filter(([, p]) => p.primary).at(-1)?.[1].line as string;
    return { text: lines.join(eol), last };
  });

const summary = (s: TaintState | null | undefined) =>
  s && {
    tainted: s.tainted,
    value: s.value,
    letters: s.letters,
    unknownLetters: s.unknownLetters,
    unknownNames: s.unknownNames,
    unknownValue: s.unknownValue,
    profile: s.profile,
  };

describe('a random log of real report lines parses to the state of its last report', () => {
  it('with the mainline profile', () => {
    fc.assert(
      fc.property(log, ({ text, last }) => {
        expect(summary(parseTaint(text, { profile: 'mainline' }))).toEqual(
          summary(parseTaint(last, { profile: 'mainline' })),
        );
      }),
      { numRuns: 200 },
    );
  });

  it('with the profile picked from each header (headers only: they carry their release)', () => {
    const headerLog = log.filter(({ last }) => headers.includes(last));
    fc.assert(
      fc.property(headerLog, ({ text, last }) => {
        expect(summary(parseTaint(text))).toEqual(summary(parseTaint(last)));
      }),
      { numRuns: 100 },
    );
  });

  it('read as a stream cut at random places, to the same state', async () => {
    await fc.assert(
      fc.asyncProperty(log, fc.array(fc.nat(), { maxLength: 8 }), async ({ text }, cuts) => {
        const bytes = Buffer.from(text);
        const at = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        const chunks: Buffer[] = [];
        let prev = 0;
        for (const c of [...at, bytes.length]) {
          chunks.push(bytes.subarray(prev, c));
          prev = c;
        }
        const v = await parseTaintStream(Readable.from(chunks), { profile: 'mainline' });
        expect(summary(v.state)).toEqual(summary(parseTaint(text, { profile: 'mainline' })));
      }),
      { numRuns: 60 },
    );
  });
});
