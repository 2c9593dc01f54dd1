// `kernel-taint check --format=npd` in process: exit 0/1/2 as NPD maps them,
// one short line on stdout whatever happens, details on stderr.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/index.js';
import { taintFile, tempDir } from '../helpers/tmp.js';

async function check(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(['check', '--profile', 'mainline', ...args], {
    out: (s) => out.push(s),
    err: (s) => err.push(s),
    isTTY: false,
    env: {},
    stdin: async () => '',
  });
  return { code, out, err };
}

describe('kernel-taint check --format=npd', () => {
  it('prints one line and exits 0 / 1 like the default check', async () => {
    expect(await check(['--format=npd', '--path', taintFile('0')])).toMatchObject({
      code: 0,
      out: ['PASS: kernel not tainted'],
      err: [],
    });
    const w = await check(['--format', 'npd', '--path', taintFile('512')]);
    expect(w).toMatchObject({ code: 1, out: ['FAIL: kernel tainted W (512): W WARN'] });
    expect(w.err).toEqual([expect.stringMatching(/^\[W\] WARN \(stability\) fail: /)]);
    const o = await check(['--format=npd', '--fail-on', 'warn', '--path', taintFile('4096')]);
    expect(o).toMatchObject({ code: 1, out: ['WARN: kernel tainted O (4096): O OOT_MODULE'] });
  });

  it('turns every error into exit 2 with an UNKNOWN line naming the code', async () => {
    const missing = await check(['--format=npd', '--path', join(tempDir(), 'nope')]);
    expect(missing.code).toBe(2);
    expect(missing.out).toEqual([expect.stringMatching(/^UNKNOWN: ENOENT: /)]);
    const dir = join(tempDir(), 'a-directory');
    mkdirSync(dir);
    const eisdir = await check(['--format=npd', '--path', dir]);
    expect(eisdir).toMatchObject({ code: 2, out: [expect.stringMatching(/^UNKNOWN: EISDIR/)] });
    const garbage = await check(['--format=npd', '--path', taintFile('not a number\n')]);
    expect(garbage.code).toBe(2);
    expect(garbage.out).toHaveLength(1);
    expect(garbage.out[0]).toMatch(/^UNKNOWN: /);
    const badFailOn = await check(['--format=npd', '--fail-on', 'never', '--path', taintFile('0')]);
    expect(badFailOn).toMatchObject({ code: 2, out: [expect.stringMatching(/^UNKNOWN: .*--fail-on/)] });
    const badPolicy = await check(['--format=npd', '--policy', taintFile('{nope', 'p.json'), '--path', taintFile('0')]);
    expect(badPolicy).toMatchObject({
      code: 2,
      out: [expect.stringMatching(/^UNKNOWN: ERR_KERNEL_TAINT_INVALID_POLICY: /)],
    });
    for (const r of [missing, eisdir, garbage, badFailOn, badPolicy])
      expect(Buffer.byteLength(r.out[0])).toBeLessThanOrEqual(80);
  });

  it('refuses an unknown format with a usage error', async () => {
    const r = await check(['--format=xml', '--path', taintFile('0')]);
    expect(r.code).toBe(2);
    expect(r.out).toEqual([]);
    expect(r.err.join('\n')).toContain("--format must be text, json or npd, got 'xml'");
  });

  it('keeps --json and --format=json the same', async () => {
    const path = taintFile('4608');
    const a = await check(['--json', '--path', path]);
    const b = await check(['--format=json', '--path', path]);
    expect(a.code).toBe(1);
    expect(JSON.parse(a.out[0])).toEqual(JSON.parse(b.out[0]));
  });
});
