// The one temp-dir helper. Directories are removed after each test.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A fresh temp dir (mode 0700) removed after the test; `keep` leaves it to the caller (file scope). */
export function tempDir(prefix = 'kernel-taint-', keep = false): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  if (!keep) dirs.push(d);
  return d;
}

/**
 * A temp dir that every user can read and traverse (0755), for files a child
 * that drops to an unprivileged uid must load: the checkout itself may sit in
 * a 0700 directory. `keep` leaves it to the caller to remove (test-file scope).
 */
export function publicTempDir(prefix = 'kernel-taint-pub-', keep = false): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o755);
  if (!keep) dirs.push(d);
  return d;
}

/** A temp file holding `content`, standing in for /proc/sys/kernel/tainted. */
export function taintFile(content: string, name = 'tainted'): string {
  const p = join(tempDir(), name);
  writeFileSync(p, content);
  return p;
}
