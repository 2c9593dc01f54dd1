// Fault-injection helpers: run a node snippet in a child under namespaces or
// limits. Everything needs root (mount/PID/network namespaces); without it
// the suite says so and skips, never silently passes.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../helpers/reference.js';

export const BIN = join(ROOT, 'bin/kernel-taint.cjs');
export const DIST = join(ROOT, 'dist');

export const isRoot = process.getuid?.() === 0;

export function canUnshare(flags: string[]): boolean {
  if (!isRoot) return false;
  return spawnSync('unshare', [...flags, 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;
}

/** Runs `node -e script` (CommonJS, dist/ available as DIST) under `prefix` (unshare, prlimit...). */
export function runNode(prefix: string[], script: string, timeout = 60_000) {
  const r = spawnSync(
    prefix[0] ?? process.execPath,
    [...prefix.slice(1), ...(prefix.length ? [process.execPath] : []), '-e', script],
    { encoding: 'utf8', timeout, env: { ...process.env, DIST } },
  );
  return { code: r.status, out: r.stdout, err: r.stderr, signal: r.signal };
}
