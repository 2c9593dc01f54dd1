// Runs a Node script in a child process and talks to it line by line.
import { type ChildProcess, spawn } from 'node:child_process';

export interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningChild {
  proc: ChildProcess;
  /** Resolves with the first stdout line matching re, earlier lines included (rejects after timeoutMs). */
  line(re: RegExp, timeoutMs?: number): Promise<string>;
  /** Resolves when the process has exited and its output is read (SIGKILLs it and rejects after timeoutMs). */
  exit(timeoutMs?: number): Promise<ChildResult>;
  alive(): boolean;
}

export function startNode(file: string, opts: { uid?: number; gid?: number; args?: string[] } = {}): RunningChild {
  const proc = spawn(process.execPath, [...(opts.args ?? []), file], {
    stdio: ['ignore', 'pipe', 'pipe'],
    uid: opts.uid,
    gid: opts.gid,
  });
  let stdout = '';
  let stderr = '';
  let partial = '';
  const lines: string[] = [];
  let result: ChildResult | null = null;
  let exited = false;
  const lineWaiters = new Set<{ re: RegExp; resolve: (l: string) => void }>();
  const exitWaiters: Array<(r: ChildResult) => void> = [];

  proc.stdout?.setEncoding('utf8').on('data', (d: string) => {
    stdout += d;
    partial += d;
    const parts = partial.split('\n');
    partial = parts.pop() ?? '';
    for (const l of parts) {
      lines.push(l);
      for (const w of lineWaiters) {
        if (w.re.test(l)) {
          lineWaiters.delete(w);
          w.resolve(l);
        }
      }
    }
  });
  proc.stderr?.setEncoding('utf8').on('data', (d: string) => {
    stderr += d;
  });
  proc.on('exit', () => {
    exited = true;
  });
  proc.on('close', (code, signal) => {
    result = { code, signal, stdout, stderr };
    for (const w of exitWaiters.splice(0)) w(result);
  });

  return {
    proc,
    alive: () => !exited,
    line(re, timeoutMs = 10_000) {
      const found = lines.find((l) => re.test(l));
      if (found !== undefined) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = {
          re,
          resolve: (l: string) => {
            clearTimeout(t);
            resolve(l);
          },
        };
        const t = setTimeout(() => {
          lineWaiters.delete(waiter);
          reject(
            new Error(`no stdout line matching ${re} within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
          );
        }, timeoutMs);
        lineWaiters.add(waiter);
      });
    },
    exit(timeoutMs = 10_000) {
      if (result !== null) return Promise.resolve(result);
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => {
          proc.kill('SIGKILL');
          reject(new Error(`child did not exit within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
        }, timeoutMs);
        exitWaiters.push((r) => {
          clearTimeout(t);
          resolve(r);
        });
      });
    },
  };
}
