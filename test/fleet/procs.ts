// Real servers for the fleet tests (Prometheus, Alertmanager, kernel-taint
// serve): started on loopback in their own process group, on ports chosen
// free at runtime, and always killed (whole group) by stopAll().
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const CLI = join(ROOT, 'bin', 'kernel-taint.cjs');

/** A free TCP port on 127.0.0.1 (the OS picks it; released before use). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Absolute path of a program on PATH, or null. */
export function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

export interface Proc {
  readonly name: string;
  readonly child: ChildProcess;
  /** stdout + stderr so far (last 64 KiB), for failure messages. */
  log(): string;
  exited(): boolean;
}

const procs = new Set<Proc>();
const dirs = new Set<string>();

/** A temp dir removed by stopAll(). */
export function tempDir(prefix = 'kernel-taint-fleet-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.add(d);
  return d;
}

/** Starts `cmd` in its own process group (killed as a group by stopAll). */
export function start(name: string, cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let exited = false;
  const keep = (d: Buffer) => {
    out = (out + d.toString('utf8')).slice(-65536);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('exit', () => {
    exited = true;
  });
  child.on('error', (e) => {
    exited = true;
    out += `\nspawn error: ${e.message}`;
  });
  const p: Proc = { name, child, log: () => out, exited: () => exited };
  procs.add(p);
  return p;
}

function killGroup(p: Proc, sig: NodeJS.Signals): void {
  if (p.child.pid === undefined) return;
  try {
    process.kill(-p.child.pid, sig);
  } catch {
    // already gone
  }
}

/** SIGTERM one process group (SIGKILL after 3 s) and wait for it to exit. */
export async function stop(p: Proc): Promise<void> {
  killGroup(p, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (!p.exited() && Date.now() < deadline) await sleep(50);
  killGroup(p, 'SIGKILL');
  while (!p.exited()) await sleep(20);
  procs.delete(p);
}

/** SIGTERM every started process group, SIGKILL what is left after 3 s, remove the temp dirs. */
export async function stopAll(): Promise<void> {
  const list = [...procs];
  procs.clear();
  for (const p of list) killGroup(p, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (list.some((p) => !p.exited()) && Date.now() < deadline) await sleep(50);
  for (const p of list) killGroup(p, 'SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Polls `probe` until it returns a non-undefined value; throws after
 * `timeoutMs` with `what` and the logs of the given processes.
 */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; every?: number; procs?: Proc[] } = {},
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last: unknown;
  for (;;) {
    for (const p of opts.procs ?? []) {
      if (p.exited()) throw new Error(`${p.name} exited while waiting for ${what}:\n${p.log()}`);
    }
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) {
      const logs = (opts.procs ?? []).map((p) => `--- ${p.name}:\n${p.log().slice(-4000)}`).join('\n');
      throw new Error(
        `timed out waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}\n${logs}`,
      );
    }
    await sleep(opts.every ?? 100);
  }
}

/** GET a JSON document from a loopback URL. */
export async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}
