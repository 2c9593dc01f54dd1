import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh temp dir removed after the test. */
export function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kernel-taint-'));
  dirs.push(d);
  return d;
}

/** A temp file holding `content`, standing in for /proc/sys/kernel/tainted. */
export function taintFile(content: string, name = 'tainted'): string {
  const p = join(tempDir(), name);
  writeFileSync(p, content);
  return p;
}
