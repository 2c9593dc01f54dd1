// Real servers for the fleet tests (Prometheus, Alertmanager, kernel-taint
// serve): started on loopback in their own process group, on ports chosen
// free at runtime, and always killed (whole group) by stopAll(). Temp dirs
// come from test/helpers/tmp.ts (scope 'file'), waits from test/helpers/events.ts.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { settle as sleep, until } from '../helpers/events.js';

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

/** SIGTERM every started process group, SIGKILL what is left after 3 s. */
export async function stopAll(): Promise<void> {
  const list = [...procs];
  procs.clear();
  for (const p of list) killGroup(p, 'SIGTERM');
  const deadline = Date.now() + 3000;
  while (list.some((p) => !p.exited()) && Date.now() < deadline) await sleep(50);
  for (const p of list) killGroup(p, 'SIGKILL');
}

/**
 * Polls `probe` (the one wait helper, `until`) until it returns a
 * non-undefined value; an error from the probe is retried, a process of
 * `procs` that exits ends the wait at once. Messages carry `what`, the last
 * probe error and the logs of `procs`.
 */
export function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  opts: { timeoutMs?: number; every?: number; procs?: Proc[] } = {},
): Promise<T> {
  const procs = opts.procs ?? [];
  let last: unknown;
  return until(
    async () => {
      const dead = procs.find((p) => p.exited());
      if (dead) throw new Error(`${dead.name} exited while waiting for ${what}:\n${dead.log()}`);
      try {
        const v = await probe();
        return v === undefined ? undefined : { v };
      } catch (e) {
        last = e;
        return undefined;
      }
    },
    opts.timeoutMs ?? 30_000,
    what,
    {
      every: opts.every ?? 100,
      details: () =>
        [
          last ? `last error: ${(last as Error).message}` : '',
          ...procs.map((p) => `--- ${p.name}:\n${p.log().slice(-4000)}`),
        ]
          .filter(Boolean)
          .join('\n'),
    },
  ).then((r) => r.v);
}

/** GET a JSON document from a loopback URL. */
export async function getJson<T = unknown>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}
