// The `watch`, `check` and `serve` subcommands of the CLI (lib/cli.ts parses
// the arguments and calls these). Exit codes as for the rest of the CLI:
// 0 pass / stopped cleanly, 1 fail, 2 error.
import { spawn } from 'node:child_process';
import { KernelTaintError } from '../errors.js';
import { readModuleTaints } from '../modules.js';
import { readTaint } from '../read.js';
import type { FlagSelector, Profile } from '../types.js';
import { type TaintChange, watchTaint } from '../watch.js';
import { bootBaseline } from './boot.js';
import { openTaintJournal, parseJournalMode, type TaintJournal } from './journal.js';
import { classifyTaint, loadTaintPolicy, type TaintPolicy, type TaintStatus } from './policy.js';
import { DEFAULT_SERVE_PORT, serveTaint } from './serve.js';
import type { TaintSource } from './source.js';

/** What the subcommands need from the CLI's I/O. */
export interface CommandIo {
  out: (s: string) => void;
  err: (s: string) => void;
  env: NodeJS.ProcessEnv;
  /** Stops `watch` and `serve` (default: SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

/** Parsed arguments of the subcommands. */
export interface CommandArgs {
  json: boolean;
  path: string | undefined;
  profile: Profile | undefined;
  /** Options by name without dashes: `exec`, `interval`, `filter`, `journal`, `journal-mode`, `policy`, `baseline`, `port`, `host`, `fail-on`, `ignore-initial`. */
  options: ReadonlyMap<string, string>;
}

/** Options each subcommand accepts (value options; `ignore-initial` is a flag). */
export const SUBCOMMAND_OPTIONS: Readonly<Record<'watch' | 'check' | 'serve', readonly string[]>> = {
  watch: ['exec', 'interval', 'filter', 'journal', 'journal-mode', 'ignore-initial'],
  check: ['policy', 'baseline', 'fail-on'],
  serve: ['port', 'host', 'interval', 'policy', 'baseline', 'journal', 'journal-mode'],
};

/** Options that take no value. */
export const FLAG_OPTIONS: readonly string[] = ['ignore-initial'];

function usage(message: string): KernelTaintError {
  return new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', message);
}

function intOption(args: CommandArgs, name: string, min: number, max: number): number | undefined {
  const v = args.options.get(name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw usage(`--${name} must be an integer ${min}-${max}, got '${v}'`);
  }
  return Number(v);
}

function stopSignal(io: CommandIo): { signal: AbortSignal; dispose: () => void } {
  if (io.signal) return { signal: io.signal, dispose: () => {} };
  const ac = new AbortController();
  const stop = () => ac.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return {
    signal: ac.signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    },
  };
}

function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

function openJournal(args: CommandArgs, io: CommandIo, source: TaintSource | undefined): TaintJournal | undefined {
  const file = args.options.get('journal');
  if (file === undefined) {
    if (args.options.has('journal-mode')) throw usage('--journal-mode needs --journal FILE');
    return undefined;
  }
  const modeText = args.options.get('journal-mode');
  return openTaintJournal(file, {
    ...(modeText !== undefined ? { mode: parseJournalMode(modeText, '--journal-mode') } : {}),
    env: io.env,
    ...(source ? { source } : {}),
    ...(args.path ? { path: args.path } : {}),
    profile: args.profile ?? 'auto',
  });
}

function changeJson(c: TaintChange): Record<string, unknown> {
  return {
    seq: c.seq,
    time: c.time.toISOString(),
    bootId: c.bootId,
    trigger: c.trigger,
    value: c.current.value,
    letters: c.current.letters,
    previous: c.previous.value,
    added: c.added.map((f) => ({ bit: f.bit, letter: f.letter, name: f.name, category: f.category })),
    modules: c.modules.carrying.map((m) => ({ name: m.name, letters: m.letters })),
    unattributable: c.modules.unattributable.map((f) => f.letter),
    kmsg: c.kmsg,
  };
}

function changeLine(c: TaintChange): string {
  const t = c.time.toISOString();
  if (c.trigger === 'initial') return `${t} initial: ${c.current}`;
  const what =
    c.added.length > 0
      ? `+${c.added.map((f) => f.letter).join('')} (${c.added.map((f) => f.name).join(', ')})`
      : `value dropped to ${c.current.value}`;
  const from = c.modules.carrying.length
    ? ` from ${c.modules.carrying.map((m) => `${m.name}(${m.letters})`).join(' ')}`
    : '';
  return `${t} ${what} via ${c.trigger}${from}: ${c.current}`;
}

/**
 * `kernel-taint watch`: streams changes (human lines or `--json` lines) and
 * runs `--exec CMD` (with `sh -c`) once per change, one at a time, with the
 * change as JSON on its stdin and in `KERNEL_TAINT_*` variables.
 */
export async function runWatch(args: CommandArgs, io: CommandIo): Promise<number> {
  const interval = intOption(args, 'interval', 0, 0x7fff_ffff);
  const filterText = args.options.get('filter');
  const filter: FlagSelector[] | undefined = filterText
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const exec = args.options.get('exec');
  const { signal, dispose } = stopSignal(io);
  const watcher = watchTaint({
    ...(args.path ? { path: args.path } : {}),
    ...(interval !== undefined ? { interval } : {}),
    ...(filter ? { filter } : {}),
    ignoreInitial: args.options.has('ignore-initial'),
    profile: args.profile ?? 'auto',
  });
  let journal: TaintJournal | undefined;
  try {
    journal = openJournal(args, io, watcher);
  } catch (e) {
    await watcher.close();
    dispose();
    throw e;
  }
  journal?.on('error', (e) => io.err(`kernel-taint: journal: ${e.message}`));
  let queue = Promise.resolve();
  const run = (c: TaintChange) => {
    if (!exec) return;
    const json = JSON.stringify(changeJson(c));
    queue = queue.then(
      () =>
        new Promise<void>((resolve) => {
          const child = spawn('/bin/sh', ['-c', exec], {
            stdio: ['pipe', 'inherit', 'inherit'],
            env: {
              ...io.env,
              KERNEL_TAINT_SEQ: String(c.seq),
              KERNEL_TAINT_VALUE: String(c.current.value),
              KERNEL_TAINT_LETTERS: c.current.letters,
              KERNEL_TAINT_ADDED: c.added.map((f) => f.letter).join(''),
              KERNEL_TAINT_TRIGGER: c.trigger,
              KERNEL_TAINT_BOOT_ID: c.bootId ?? '',
            },
          });
          child.stdin.on('error', () => {});
          child.stdin.end(`${json}\n`);
          child.on('error', (e) => {
            io.err(`kernel-taint: --exec: ${e.message}`);
            resolve();
          });
          child.on('close', (code, sig) => {
            if (code !== 0) io.err(`kernel-taint: --exec exited with ${sig ?? code}`);
            resolve();
          });
        }),
    );
  };
  watcher.on('change', (c) => {
    io.out(args.json ? JSON.stringify(changeJson(c)) : changeLine(c));
    run(c);
  });
  watcher.on('error', (e: Error & { code?: string }) =>
    io.err(`kernel-taint: ${e.message}${e.code ? ` (${e.code})` : ''}`),
  );
  watcher.on('ready', (triggers) => {
    if (!args.json)
      io.err(`kernel-taint: watching ${args.path ?? '/proc/sys/kernel/tainted'} via ${triggers.join(', ')}`);
  });
  await untilAborted(signal);
  dispose();
  await watcher.close();
  await queue;
  await journal?.close();
  return 0;
}

function policyFrom(args: CommandArgs): TaintPolicy {
  const file = args.options.get('policy');
  return file ? loadTaintPolicy(file) : {};
}

/**
 * `kernel-taint check`: a CI gate. Classifies the current taint under
 * `--policy FILE` (default: by category); `--baseline FILE` ignores the bits
 * that were set at the first check of this boot (the file is created then).
 * Exit 0 pass (and warn unless `--fail-on warn`), 1 fail, 2 error.
 */
export async function runCheck(args: CommandArgs, io: CommandIo): Promise<number> {
  const failOn = args.options.get('fail-on') ?? 'fail';
  if (failOn !== 'warn' && failOn !== 'fail') throw usage(`--fail-on must be warn or fail, got '${failOn}'`);
  let policy = policyFrom(args);
  const state = readTaint({ ...(args.path ? { path: args.path } : {}), profile: args.profile ?? 'auto' });
  const baselineFile = args.options.get('baseline');
  let baseline: ReturnType<typeof bootBaseline> | null = null;
  if (baselineFile) {
    baseline = bootBaseline(baselineFile, state.value, {
      ...(io.env.KERNEL_TAINT_BOOT_ID_PATH ? { bootIdPath: io.env.KERNEL_TAINT_BOOT_ID_PATH } : {}),
    });
    policy = { ...policy, onlyNewSinceBoot: true };
  }
  const needsModules = (policy.allow ?? []).some((r) => typeof r === 'object' && r.modules !== undefined);
  const c = classifyTaint(state, policy, {
    ...(baseline ? { baseline: baseline.value } : {}),
    ...(needsModules ? { modules: readModuleTaints({ profile: args.profile ?? 'auto' }) } : {}),
  });
  if (args.json) {
    io.out(
      JSON.stringify({
        status: c.status,
        value: state.value,
        letters: state.letters,
        profile: state.profile,
        baseline: baseline ? { value: baseline.value, bootId: baseline.bootId, created: baseline.created } : null,
        reasons: c.reasons,
      }),
    );
  } else {
    io.out(`${c.status.toUpperCase()}: ${state}`);
    if (baseline?.created) io.out(`  baseline recorded in ${baselineFile}: value ${baseline.value}`);
    else if (baseline) io.out(`  baseline from ${baselineFile}: value ${baseline.value} (ignored bits)`);
    for (const r of c.reasons) io.out(`  [${r.letter}] ${r.status}: ${r.message}`);
  }
  const bad: TaintStatus[] = failOn === 'warn' ? ['warn', 'fail'] : ['fail'];
  return bad.includes(c.status) ? 1 : 0;
}

/**
 * `kernel-taint serve`: the sidecar (panel, /health, /metrics, /events) until
 * SIGINT/SIGTERM. Loopback unless `--host` says otherwise.
 */
export async function runServe(args: CommandArgs, io: CommandIo): Promise<number> {
  const port = intOption(args, 'port', 0, 65535) ?? DEFAULT_SERVE_PORT;
  const interval = intOption(args, 'interval', 0, 0x7fff_ffff);
  const host = args.options.get('host') ?? '127.0.0.1';
  const policy = policyFrom(args);
  const baselineFile = args.options.get('baseline');
  const { signal, dispose } = stopSignal(io);
  const watcher = watchTaint({
    ...(args.path ? { path: args.path } : {}),
    ...(interval !== undefined ? { interval } : {}),
    profile: args.profile ?? 'auto',
  });
  let journal: TaintJournal | undefined;
  try {
    journal = openJournal(args, io, watcher);
    journal?.on('error', (e) => io.err(`kernel-taint: journal: ${e.message}`));
    watcher.on('error', (e: Error & { code?: string }) =>
      io.err(`kernel-taint: ${e.message}${e.code ? ` (${e.code})` : ''}`),
    );
    const server = await serveTaint({
      host,
      port,
      source: watcher,
      policy: baselineFile ? { ...policy, onlyNewSinceBoot: true } : policy,
      ...(baselineFile ? { baselineFile } : {}),
      ...(journal ? { journal } : {}),
      ...(args.profile ? { profile: args.profile } : {}),
    });
    if (!['127.0.0.1', '::1', 'localhost'].includes(host)) {
      io.err(`kernel-taint: warning: listening on ${host}, not loopback: anyone who can reach it can read it`);
    }
    io.out(`kernel-taint: serving on ${server.url}/ (/health, /metrics, /events, /state)`);
    await untilAborted(signal);
    await server.close();
  } finally {
    dispose();
    await watcher.close();
    await journal?.close();
  }
  return 0;
}
