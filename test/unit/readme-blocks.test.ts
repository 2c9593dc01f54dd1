// The README's code blocks are files under test/examples/ (run by
// test/fleet/readme-examples.test.ts) or excerpts of the deploy files
// they name: this fails when one drifts from its file, and proves the check
// itself catches a changed, missing or unmarked block; and that the README's
// error table lists every code lib/errors.ts declares.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/reference.js';

const SCRIPT = join(ROOT, 'scripts/readme-blocks.mjs');
type Checker = {
  checkDoc(name: string, text?: string): string[];
  codeBlocks(text: string): Array<{ lang: string; body: string; marker: { kind: string; file: string } | null }>;
  rewriteDoc(text: string): string;
};
const load = async (): Promise<Checker> => (await import(SCRIPT)) as Checker;

describe('README and CONTRIBUTING code blocks', () => {
  it('match their files (node scripts/readme-blocks.mjs --check)', () => {
    const r = spawnSync(process.execPath, [SCRIPT, '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('mark every non-shell block of the README, and the examples are real files', async () => {
    const { codeBlocks } = await load();
    const blocks = codeBlocks(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const code = blocks.filter((b) => !['sh', 'bash', 'shell', 'console'].includes(b.lang));
    expect(code.length).toBeGreaterThanOrEqual(15);
    for (const b of code) expect(b.marker, b.body.slice(0, 80)).not.toBeNull();
    const examples = code.filter((b) => b.marker?.kind === 'example').map((b) => b.marker?.file);
    expect(examples).toContain('test/examples/quick-start.mjs');
    expect(examples).toContain('test/examples/electron/preload.cjs');
  });

  it('catches a changed byte, a missing marker, a missing file and a false excerpt', async () => {
    const { checkDoc, rewriteDoc } = await load();
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(checkDoc('README.md', readme)).toEqual([]);
    const changed = readme.replace('const t = readTaint(); // one pread', 'const t = readTaint();  // one pread');
    expect(changed).not.toBe(readme);
    expect(checkDoc('README.md', changed)).toEqual([
      expect.stringMatching(/differs from test\/examples\/quick-start\.mjs/),
    ]);
    expect(rewriteDoc(changed)).toBe(readme);
    const unmarked = readme.replace('<!-- example: test/examples/quick-start.mjs -->\n', '');
    expect(checkDoc('README.md', unmarked)).toEqual([
      expect.stringMatching(/`js` block without an example\/excerpt marker/),
    ]);
    const missing = readme.replace('example: test/examples/quick-start.mjs', 'example: test/examples/nope.mjs');
    expect(checkDoc('README.md', missing)).toEqual([expect.stringMatching(/nope\.mjs does not exist/)]);
    const excerpt = readme.replace('regex: node_kernel_tainted;O', 'regex: node_kernel_tainted;W');
    expect(excerpt).not.toBe(readme);
    expect(checkDoc('README.md', excerpt)).toEqual([
      expect.stringMatching(/not an excerpt of deploy\/prometheus\/prometheus\.yml/),
    ]);
  });

  it('lists every error code the package throws (lib/errors.ts)', () => {
    const union = /export type KernelTaintErrorCode =([^;]+);/.exec(readFileSync(join(ROOT, 'lib/errors.ts'), 'utf8'));
    const codes = [...(union?.[1] ?? '').matchAll(/'(ERR_[A-Z_]+)'/g)].map((m) => m[1]);
    expect(codes.length).toBeGreaterThanOrEqual(10);
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const code of codes) expect(readme, code).toContain(`| \`${code}\` |`);
  });
});
