// The `kernel-taint` command. Exit codes: 0 untainted (or success), 1 tainted,
// 2 error or bad usage.
import { readFileSync } from 'node:fs';
import { decodeTaint } from './decode.js';
import { PROFILE_IDS } from './flags.js';
import { FLAG_OPTIONS, runCheck, runServe, runWatch, SUBCOMMAND_OPTIONS } from './integrations/commands.js';
import { runParseCommand } from './parse-stream.js';
import { readTaint } from './read.js';
import type { Profile, TaintState } from './types.js';

const VERSION: string = (() => {
  try {
    return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
  } catch {
    return 'unknown';
  }
})();

const HELP = `kernel-taint ${VERSION}: read and explain Linux kernel taint

Usage:
  kernel-taint [--json] [--profile P] [--path FILE]   report this kernel's taint
  kernel-taint decode <value> [--json] [--profile P]  explain a taint value (decimal or 0x hex)
  kernel-taint parse [FILE] [--json] [--profile P]    find taint in a log (stdin when no FILE),
                                                      e.g. dmesg | kernel-taint parse
  kernel-taint watch [--json] [--exec CMD]            stream changes until Ctrl-C; --exec runs CMD
        [--interval MS] [--filter W,D,...]            (sh -c) per change, JSON on its stdin
        [--ignore-initial] [--journal FILE [--journal-mode M]]
  kernel-taint check [--policy FILE] [--baseline FILE] [--fail-on warn|fail] [--json]
                                                      CI gate: exit 0 pass/warn, 1 fail, 2 error;
                                                      --baseline ignores bits set at the first check
                                                      of this boot
  kernel-taint serve [--port 9523] [--host 127.0.0.1] [--policy FILE] [--journal FILE]
                                                      panel at /, /health, /metrics, /events
Options:
  --json         machine-readable output
  --profile P    flag table: ${PROFILE_IDS.join(', ')}, auto (default)
  --path FILE    read FILE instead of /proc/sys/kernel/tainted
  --no-color     plain output (also NO_COLOR=1); colour is used only on a terminal
  -h, --help     this help
  -v, --version  the version
  --journal-mode enabled (default), success-only, failure-only (both as enabled), disabled;
                 also KERNEL_TAINT_JOURNAL

Exit status: 0 not tainted, 1 tainted, 2 error (check: 0 pass, 1 fail, 2 error).`;

interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  stdin: () => Promise<string>;
  /** The standard input as a stream (parse reads it line by line). */
  stdinStream?: () => AsyncIterable<Uint8Array | string>;
  /** Standard output as a stream, to wait for it to drain. */
  stdout?: import('node:stream').Writable;
  /** Stops `watch` and `serve` (default: SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

const defaultIo = (): Io => ({
  out: (s) => process.stdout.write(`${s}\n`),
  err: (s) => process.stderr.write(`${s}\n`),
  isTTY: Boolean(process.stdout.isTTY),
  env: process.env,
  stdin: async () => {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  },
  stdinStream: () => process.stdin,
  stdout: process.stdout,
});

class UsageError extends Error {}

interface Args {
  command: 'report' | 'decode' | 'parse' | 'watch' | 'check' | 'serve' | 'help' | 'version';
  positional: string[];
  json: boolean;
  color: boolean | undefined;
  profile: Profile | undefined;
  path: string | undefined;
  /** Options of watch/check/serve, by name without dashes. */
  options: Map<string, string>;
}

const SUB_OPTIONS = new Set(Object.values(SUBCOMMAND_OPTIONS).flat());

function parseArgs(argv: string[]): Args {
  const a: Args = {
    command: 'report',
    positional: [],
    json: false,
    color: undefined,
    profile: undefined,
    path: undefined,
    options: new Map(),
  };
  const rest: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    const value = (): string => {
      const v = s.includes('=') ? s.slice(s.indexOf('=') + 1) : argv[++i];
      if (v === undefined) throw new UsageError(`${s.split('=')[0]} needs a value`);
      return v;
    };
    if (s === '-h' || s === '--help') a.command = 'help';
    else if (s === '-v' || s === '--version') a.command = 'version';
    else if (s === '--json') a.json = true;
    else if (s === '--no-color') a.color = false;
    else if (s === '--color') a.color = true;
    else if (s === '--profile' || s.startsWith('--profile=')) {
      const p = value();
      if (p !== 'auto' && !PROFILE_IDS.includes(p as never)) throw new UsageError(`unknown profile '${p}'`);
      a.profile = p as Profile;
    } else if (s === '--path' || s.startsWith('--path=')) a.path = value();
    else if (s.startsWith('--') && SUB_OPTIONS.has(s.slice(2).split('=')[0])) {
      const name = s.slice(2).split('=')[0];
      a.options.set(name, FLAG_OPTIONS.includes(name) ? '' : value());
    } else if (s.startsWith('-') && s !== '-') throw new UsageError(`unknown option ${s}`);
    else rest.push(s);
  }
  if (a.command === 'help' || a.command === 'version') return a;
  if (rest[0] === 'decode' || rest[0] === 'parse') {
    a.command = rest[0];
    a.positional = rest.slice(1);
  } else if (rest[0] === 'watch' || rest[0] === 'check' || rest[0] === 'serve') {
    a.command = rest[0];
    if (rest.length > 1) throw new UsageError(`${rest[0]} takes no arguments, got '${rest[1]}'`);
  } else if (rest.length > 0) throw new UsageError(`unknown command '${rest[0]}'`);
  for (const name of a.options.keys()) {
    const cmd = a.command as keyof typeof SUBCOMMAND_OPTIONS;
    if (!(SUBCOMMAND_OPTIONS[cmd] ?? []).includes(name)) {
      throw new UsageError(`--${name} is not an option of ${a.command === 'report' ? 'the report' : a.command}`);
    }
  }
  if (a.command === 'decode' && a.positional.length !== 1) throw new UsageError('decode takes one value');
  if (a.command === 'parse' && a.positional.length > 1) throw new UsageError('parse takes at most one file');
  return a;
}

const COLORS = {
  fail: '\x1b[31m',
  warn: '\x1b[33m',
  ok: '\x1b[32m',
  dim: '\x1b[2m',
  bold: '\x1b[1m',
  reset: '\x1b[0m',
};
type Paint = (c: keyof typeof COLORS, s: string) => string;

const CATEGORY_COLOR = {
  hardware: 'fail',
  stability: 'fail',
  integrity: 'warn',
  informational: 'dim',
  unknown: 'warn',
} as const;

function describe(state: TaintState, paint: Paint): string[] {
  if (!state.tainted) return [paint('ok', `Not tainted (value 0, profile ${state.profile})`)];
  const lines = [
    paint('bold', `Tainted: value ${state.value}, letters ${state.letters || '-'} (profile ${state.profile})`),
  ];
  for (const f of state.flags) {
    lines.push(`  ${paint(CATEGORY_COLOR[f.category], `[${f.letter}] ${f.name}`)}  bit ${f.bit}, ${f.category}`);
    lines.push(`      ${f.description}`);
  }
  for (const l of state.unknownLetters)
    lines.push(`  ${paint('warn', `[${l}] unknown letter`)}: not defined by profile ${state.profile}`);
  return lines;
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[], io: Io = defaultIo()): Promise<number> {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    io.err(`kernel-taint: ${(e as Error).message}\nTry 'kernel-taint --help'.`);
    return 2;
  }
  const useColor = args.color ?? (io.isTTY && !('NO_COLOR' in io.env && io.env.NO_COLOR !== ''));
  const paint: Paint = (c, s) => (useColor ? `${COLORS[c]}${s}${COLORS.reset}` : s);
  try {
    switch (args.command) {
      case 'help':
        io.out(HELP);
        return 0;
      case 'version':
        io.out(VERSION);
        return 0;
      case 'decode': {
        const state = decodeTaint(args.positional[0], { profile: args.profile });
        io.out(args.json ? JSON.stringify(state) : describe(state, paint).join('\n'));
        return state.tainted ? 1 : 0;
      }
      case 'watch':
      case 'check':
      case 'serve': {
        const run = { watch: runWatch, check: runCheck, serve: runServe }[args.command];
        return await run(
          { json: args.json, path: args.path, profile: args.profile, options: args.options },
          { out: io.out, err: io.err, env: io.env, ...(io.signal ? { signal: io.signal } : {}) },
        );
      }
      case 'parse':
        return await runParseCommand(
          { file: args.positional[0], json: args.json, profile: args.profile, path: args.path },
          io.stdinStream
            ? { out: io.out, stdout: io.stdout, stdin: io.stdinStream }
            : { out: io.out, stdout: io.stdout, stdinText: io.stdin },
        );
      default: {
        const state = readTaint({ ...(args.path ? { path: args.path } : {}), profile: args.profile });
        if (args.json) io.out(JSON.stringify(state));
        else {
          io.out(describe(state, paint).join('\n'));
          if (state.lettersMismatch)
            io.out(paint('warn', `Note: the kernel's own letters say '${state.kernelLetters}'`));
        }
        return state.tainted ? 1 : 0;
      }
    }
  } catch (e) {
    const err = e as Error & { code?: string };
    io.err(`kernel-taint: ${err.message}${err.code ? ` (${err.code})` : ''}`);
    return 2;
  }
}
