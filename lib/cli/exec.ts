// `watch --exec CMD`: runs CMD (sh -c) once per change, one at a time, in
// order. Bounded in every direction: each run has a timeout (SIGTERM, then
// SIGKILL), the queue holds at most `maxQueue` waiting changes (more are
// dropped and counted), and stop() ends within `timeout` + the kill grace.
import { type ChildProcess, spawn } from 'node:child_process';

/** Grace between SIGTERM and SIGKILL of a command that overran or is stopped. */
export const EXEC_KILL_GRACE_MS = 2000;

export interface ExecJob {
  /** Written to the command's stdin (one line of JSON). */
  readonly stdin: string;
  /** Extra environment variables. */
  readonly env: Readonly<Record<string, string>>;
}

export interface ExecRunnerOptions {
  command: string;
  env: NodeJS.ProcessEnv;
  /** Per-run limit in ms (default 30000). */
  timeout?: number;
  /** Waiting runs kept (default 64); further ones are dropped and counted. */
  maxQueue?: number;
  /** Where problems are reported (one line each). */
  report: (line: string) => void;
}

export class ExecRunner {
  readonly #opts: ExecRunnerOptions;
  readonly #queue: ExecJob[] = [];
  #child: ChildProcess | null = null;
  #running: Promise<void> | null = null;
  #stopped = false;
  /** Runs dropped because the queue was full (or still waiting at stop). */
  dropped = 0;
  /** Runs killed for overrunning the timeout. */
  timedOut = 0;
  /** Runs started. */
  started = 0;

  constructor(opts: ExecRunnerOptions) {
    this.#opts = opts;
  }

  /** Queues a run; drops it (and counts) when the queue is full. */
  push(job: ExecJob): void {
    if (this.#stopped) return;
    const max = this.#opts.maxQueue ?? 64;
    if (this.#queue.length >= max) {
      this.dropped++;
      this.#opts.report(
        `kernel-taint: --exec: queue full (${max} waiting), change dropped (${this.dropped} dropped so far)`,
      );
      return;
    }
    this.#queue.push(job);
    this.#running ??= this.#drain();
  }

  async #drain(): Promise<void> {
    while (!this.#stopped) {
      const job = this.#queue.shift();
      if (!job) break;
      await this.#run(job);
    }
    this.#running = null;
  }

  #run(job: ExecJob): Promise<void> {
    this.started++;
    const timeout = this.#opts.timeout ?? 30_000;
    return new Promise<void>((resolve) => {
      const child = spawn('/bin/sh', ['-c', this.#opts.command], {
        stdio: ['pipe', 'inherit', 'inherit'],
        env: { ...this.#opts.env, ...job.env },
        // Its own process group, so a timeout kills what the shell started too.
        detached: true,
      });
      this.#child = child;
      let overran = false;
      let kill: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        overran = true;
        this.timedOut++;
        this.#opts.report(`kernel-taint: --exec: still running after ${timeout} ms: stopped`);
        this.#signal(child, 'SIGTERM');
        kill = setTimeout(() => this.#signal(child, 'SIGKILL'), EXEC_KILL_GRACE_MS);
      }, timeout);
      const done = () => {
        clearTimeout(timer);
        if (kill) clearTimeout(kill);
        if (this.#child === child) this.#child = null;
        resolve();
      };
      child.stdin?.on('error', () => {});
      child.stdin?.end(job.stdin);
      child.on('error', (e) => {
        this.#opts.report(`kernel-taint: --exec: ${e.message}`);
        done();
      });
      child.on('close', (code, sig) => {
        if (code !== 0 && !overran && !this.#stopped)
          this.#opts.report(`kernel-taint: --exec exited with ${sig ?? code}`);
        done();
      });
    });
  }

  #signal(child: ChildProcess, sig: NodeJS.Signals): void {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, sig);
    } catch {
      try {
        child.kill(sig);
      } catch {
        // Gone.
      }
    }
  }

  /**
   * Stops: drops what waits (counted), lets the running command finish for
   * the grace time, then SIGTERM, then SIGKILL; resolves when it has exited.
   */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#queue.length > 0) {
      this.dropped += this.#queue.length;
      this.#opts.report(`kernel-taint: --exec: stopping, ${this.#queue.length} queued run(s) not started`);
      this.#queue.length = 0;
    }
    const child = this.#child;
    if (child) {
      // The running command may finish on its own for a grace time, then it is
      // asked to stop (SIGTERM), then killed: at most twice the grace in all.
      const term = setTimeout(() => this.#signal(child, 'SIGTERM'), EXEC_KILL_GRACE_MS);
      const kill = setTimeout(() => this.#signal(child, 'SIGKILL'), 2 * EXEC_KILL_GRACE_MS);
      await this.#running;
      clearTimeout(term);
      clearTimeout(kill);
    }
    await this.#running;
  }
}
