// The `kernel-taint` command: dispatch to lib/cli/<command>.ts. Exit codes:
// 0 untainted (or success), 1 tainted, 2 error or bad usage.
import { readFileSync } from 'node:fs';
import { check } from './check.js';
import { decode } from './decode.js';
import { defaultIo, errorLine, type Io, painter, useColor } from './io.js';
import { type Command, commandHelp, globalHelp, type ParsedCommandLine, parseCommandLine } from './options.js';
import { parse } from './parse.js';
import { report } from './report.js';
import { serve } from './serve.js';
import { watch } from './watch.js';

export type { Io } from './io.js';

/** Every command, in the order --help lists them. */
export const COMMANDS: readonly Command[] = [report, decode, parse, watch, check, serve];

function version(): string {
  // dist/cli.* is one level below the package root, lib/cli/index.ts two.
  for (const rel of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8'));
      if (pkg.name === 'kernel-taint') return pkg.version;
    } catch {}
  }
  return 'unknown';
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: readonly string[], io: Io = defaultIo()): Promise<number> {
  let cl: ParsedCommandLine;
  try {
    cl = parseCommandLine(argv, COMMANDS);
  } catch (e) {
    io.err(`kernel-taint: ${(e as Error).message}\nTry 'kernel-taint --help'.`);
    return 2;
  }
  if (cl.values.help) {
    io.out(cl.named ? commandHelp(version(), cl.command) : globalHelp(version(), COMMANDS));
    return 0;
  }
  if (cl.values.version) {
    io.out(version());
    return 0;
  }
  const colorFlag = cl.values['no-color'] ? false : cl.values.color ? true : undefined;
  const paint = painter(useColor(colorFlag, io));
  try {
    return await cl.command.run({ values: cl.values, positionals: cl.positionals, profile: cl.profile, io, paint });
  } catch (e) {
    io.err(errorLine(e));
    return 2;
  }
}

/** Exit status when stdout is closed under us (`kernel-taint parse big.log | head -1`), as SIGPIPE would. */
export const EXIT_EPIPE = 141;

/**
 * The `kernel-taint` binary: main() with the process guards. A closed stdout
 * (EPIPE) exits quietly with EXIT_EPIPE; any error that escapes still prints
 * one line, never a stack trace, and exits 2.
 */
export function run(argv: readonly string[]): void {
  const quiet = (e: NodeJS.ErrnoException) => {
    if (e?.code === 'EPIPE' || e?.code === 'ERR_STREAM_DESTROYED') process.exit(EXIT_EPIPE);
    throw e;
  };
  process.stdout.on('error', quiet);
  // Nowhere left to report a broken stderr.
  process.stderr.on('error', () => {});
  const fatal = (e: unknown) => {
    const err = e as NodeJS.ErrnoException;
    if (err?.code === 'EPIPE') process.exit(EXIT_EPIPE);
    try {
      process.stderr.write(`${errorLine(e)}\n`);
    } catch {
      // stderr is gone too.
    }
    process.exit(2);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  main(argv).then((code) => {
    process.exitCode = code;
  }, fatal);
}
