// A fake /sys/module tree: one directory per module with its `taint` letters.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Creates `<dir>/module/<name>/taint` for each entry and returns the module directory. */
export function moduleTree(dir: string, entries: Record<string, string>): string {
  const root = join(dir, 'module');
  mkdirSync(root, { recursive: true });
  for (const [name, taint] of Object.entries(entries)) {
    mkdirSync(join(root, name), { recursive: true });
    writeFileSync(join(root, name, 'taint'), `${taint}\n`);
  }
  return root;
}

/** The mainline value of a set of letters (`bits('P', 'O')` = 0x1001). */
export function bits(...letters: string[]): number {
  return letters.reduce((v, l) => v | (1 << 'PFSRMBUDAWCIOELKXTNJ'.indexOf(l)), 0) >>> 0;
}
