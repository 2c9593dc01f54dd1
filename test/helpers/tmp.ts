// The one temp-dir helper. A directory lives as long as its scope:
// - 'test' (default): removed after the current test (made in a test or a beforeEach);
// - 'file': removed after the test file (made at file level or in a beforeAll);
// - 'caller': never removed here, the caller removes it.
// The hooks run after the file's own afterEach/afterAll hooks (vitest runs
// "after" hooks in reverse order and these are registered first, on import),
// so watchers and processes using a directory are closed before it goes.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach } from 'vitest';

export type TempScope = 'test' | 'file' | 'caller';

const dirs: Record<Exclude<TempScope, 'caller'>, string[]> = { test: [], file: [] };
const remove = (list: string[]) => {
  for (const d of list.splice(0)) rmSync(d, { recursive: true, force: true });
};
afterEach(() => remove(dirs.test));
afterAll(() => remove(dirs.file));

/** A fresh temp dir (mode 0700), removed at the end of `scope`. */
export function tempDir(prefix = 'kernel-taint-', scope: TempScope = 'test'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  if (scope !== 'caller') dirs[scope].push(d);
  return d;
}

/**
 * A temp dir that every user can read and traverse (0755), for files a child
 * that drops to an unprivileged uid must load: the checkout itself may sit in
 * a 0700 directory.
 */
export function publicTempDir(prefix = 'kernel-taint-pub-', scope: TempScope = 'test'): string {
  const d = tempDir(prefix, scope);
  chmodSync(d, 0o755);
  return d;
}

/** A temp file holding `content`, standing in for /proc/sys/kernel/tainted. */
export function taintFile(content: string, name = 'tainted'): string {
  const p = join(tempDir(), name);
  writeFileSync(p, content);
  return p;
}
