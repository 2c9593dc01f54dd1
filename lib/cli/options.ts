// Option declarations of the CLI. Each command declares its options once
// (lib/cli/<command>.ts); parsing (node:util parseArgs) and --help are both
// generated from these declarations.
import { parseArgs } from 'node:util';
import { KernelTaintError } from '../errors.js';
import type { TaintJournal } from '../integrations/journal.js';
import type { TaintSource } from '../integrations/source.js';
import { PROFILE_NAMES, parseProfile } from '../profiles.js';
import type { Profile } from '../types.js';
import type { Io, Paint } from './io.js';

/** One option as parseArgs and --help see it. */
export interface OptionSpec {
  /** Long name without dashes. */
  readonly name: string;
  readonly type: 'boolean' | 'string';
  readonly short?: string;
  /** Placeholder of the value in --help (`FILE`, `MS`). */
  readonly arg?: string;
  /** May be given more than once (the value is then an array). */
  readonly multiple?: boolean;
  readonly help: string;
}

/** Parsed values, by long option name. */
export type OptionValues = Readonly<Record<string, string | boolean | string[] | undefined>>;

/** What a command's run() gets. */
export interface CommandContext {
  readonly values: OptionValues;
  readonly positionals: readonly string[];
  /** `--profile`, normalised (case-insensitive), `undefined` when not given. */
  readonly profile: Profile | undefined;
  readonly io: Io;
  readonly paint: Paint;
}

export interface Command {
  readonly name: 'report' | 'decode' | 'parse' | 'watch' | 'check' | 'serve';
  /** What follows `kernel-taint` in the usage line (`decode <value>`). */
  readonly usage: string;
  readonly summary: string;
  /** Longer text for `kernel-taint <command> --help`. */
  readonly details?: string;
  readonly options: readonly OptionSpec[];
  /** How many positionals it takes: [min, max]. */
  readonly positionals: readonly [number, number];
  /** Resolves to the exit code. */
  run(ctx: CommandContext): Promise<number>;
}

/** Thrown for bad usage: the CLI prints it with a pointer to --help and exits 2. */
export class UsageError extends KernelTaintError {
  constructor(message: string) {
    super('ERR_KERNEL_TAINT_INVALID_ARG', message);
    this.name = 'UsageError';
  }
}

// Options several commands share.
export const JSON_OPTION: OptionSpec = { name: 'json', type: 'boolean', help: 'machine-readable output' };
export const PROFILE_OPTION: OptionSpec = {
  name: 'profile',
  type: 'string',
  arg: 'P',
  help: `flag table: ${PROFILE_NAMES.join(', ')} (default auto; any case)`,
};
export const PATH_OPTION: OptionSpec = {
  name: 'path',
  type: 'string',
  arg: 'FILE',
  help: 'read FILE instead of /proc/sys/kernel/tainted',
};
/** `--kmsg FILE` of watch and serve: the log their watcher (and its --journal, in the same read) explains from. */
export const KMSG_OPTION: OptionSpec = {
  name: 'kmsg',
  type: 'string',
  arg: 'FILE',
  help: 'kernel log (/dev/kmsg record format) explaining changes and --journal start records (default /dev/kmsg without --path)',
};
export const INTERVAL_OPTION: OptionSpec = {
  name: 'interval',
  type: 'string',
  arg: 'MS',
  help: 'poll backstop and counter check interval in ms (0: none; default 5000)',
};
export const POLICY_OPTION: OptionSpec = {
  name: 'policy',
  type: 'string',
  arg: 'FILE',
  help: 'taint policy (JSON) classifying flags as pass/warn/fail',
};
export const BASELINE_OPTION: OptionSpec = {
  name: 'baseline',
  type: 'string',
  arg: 'FILE',
  help: 'ignore the bits set at the first check of this boot (FILE records them)',
};
export const JOURNAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'journal', type: 'string', arg: 'FILE', help: 'append each change to a crash-safe journal' },
  {
    name: 'journal-mode',
    type: 'string',
    arg: 'M',
    help: 'enabled (default), success-only, failure-only (both as enabled), disabled; also KERNEL_TAINT_JOURNAL',
  },
];

/** Options every command accepts. */
export const GLOBAL_OPTIONS: readonly OptionSpec[] = [
  { name: 'color', type: 'boolean', help: 'colour even when not on a terminal (also FORCE_COLOR=1)' },
  { name: 'no-color', type: 'boolean', help: 'plain output (also NO_COLOR=1); default: colour on a terminal' },
  { name: 'help', short: 'h', type: 'boolean', help: 'this help (`kernel-taint COMMAND --help`: that command)' },
  { name: 'version', short: 'v', type: 'boolean', help: 'the version' },
];

/** An integer option in [min, max], or undefined when absent. */
export function intOption(values: OptionValues, name: string, min: number, max: number): number | undefined {
  const v = values[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !/^\d+$/.test(v) || Number(v) < min || Number(v) > max) {
    throw new UsageError(`--${name} must be an integer ${min}-${max}, got '${v}'`);
  }
  return Number(v);
}

/** A repeatable string option: every value given, in order. */
export function listOption(values: OptionValues, name: string): string[] {
  const v = values[name];
  return Array.isArray(v) ? v : typeof v === 'string' ? [v] : [];
}

/**
 * `-1`, `-0x10`: a negative number is a value, not an option (no option is a
 * digit), so `decode -1` reaches decodeTaint's message like `decode -- -1`.
 */
function numbersAsPositionals(argv: readonly string[]): string[] {
  const end = argv.indexOf('--');
  const head = end < 0 ? [...argv] : argv.slice(0, end);
  const tail = end < 0 ? [] : argv.slice(end + 1);
  const numbers = head.filter((a) => /^-\d/.test(a));
  if (numbers.length === 0) return [...argv];
  return [...head.filter((a) => !/^-\d/.test(a)), '--', ...numbers, ...tail];
}

/** A string option, or undefined. */
export function stringOption(values: OptionValues, name: string): string | undefined {
  const v = values[name];
  return typeof v === 'string' ? v : undefined;
}

export interface ParsedCommandLine {
  command: Command;
  /** Whether the command was named (`kernel-taint decode …`) rather than the default report. */
  named: boolean;
  values: OptionValues;
  positionals: string[];
  profile: Profile | undefined;
}

function optionConfig(specs: readonly OptionSpec[]) {
  const config: Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }> = {};
  for (const s of specs) {
    config[s.name] = {
      type: s.type,
      ...(s.short ? { short: s.short } : {}),
      ...(s.multiple ? { multiple: true } : {}),
    };
  }
  return config;
}

/**
 * Parses argv: options may come before or after the command word, `--` ends
 * the options. Throws UsageError for unknown options, options of another
 * command, missing values and wrong positional counts.
 */
export function parseCommandLine(argv: readonly string[], commands: readonly Command[]): ParsedCommandLine {
  const all = new Map<string, OptionSpec>();
  for (const spec of [...GLOBAL_OPTIONS, ...commands.flatMap((c) => c.options)]) all.set(spec.name, spec);
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: numbersAsPositionals(argv),
      options: optionConfig([...all.values()]),
      allowPositionals: true,
      strict: true,
      tokens: true,
    });
  } catch (e) {
    throw usageFromParseArgs(e as Error & { code?: string });
  }
  const positionals = [...parsed.positionals];
  const byName = new Map(commands.map((c) => [c.name as string, c]));
  const first = parsed.tokens?.find((t) => t.kind === 'positional');
  let command = byName.get('report') as Command;
  let named = false;
  if (first && first.kind === 'positional' && byName.has(first.value) && first.value !== 'report') {
    command = byName.get(first.value) as Command;
    named = true;
    positionals.splice(positionals.indexOf(first.value), 1);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  if (values.help || values.version) return { command, named, values, positionals, profile: undefined };
  if (!named && positionals.length > 0) throw new UsageError(`unknown command '${positionals[0]}'`);
  const allowed = new Set([...GLOBAL_OPTIONS, ...command.options].map((o) => o.name));
  for (const t of parsed.tokens ?? []) {
    if (t.kind === 'option' && !allowed.has(t.name)) {
      throw new UsageError(`--${t.name} is not an option of ${named ? command.name : 'the report'}`);
    }
  }
  const [min, max] = command.positionals;
  if (positionals.length < min || positionals.length > max) {
    throw new UsageError(
      max === 0
        ? `${command.name} takes no arguments, got '${positionals[0]}'`
        : `${command.name} takes ${min === max ? min : `${min}-${max}`} argument${max === 1 ? '' : 's'}: ${command.usage}`,
    );
  }
  let profile: Profile | undefined;
  if (values.profile !== undefined) {
    try {
      profile = parseProfile(values.profile);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
  }
  return { command, named, values, positionals, profile };
}

function usageFromParseArgs(e: Error & { code?: string }): Error {
  const quoted = /'(-[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return new UsageError(`unknown option ${quoted ?? e.message}`);
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    if (/argument missing/.test(e.message)) return new UsageError(`${quoted ?? 'an option'} needs a value`);
    return new UsageError(`${quoted ?? 'an option'} takes no value`);
  }
  return new UsageError(e.message);
}

function optionLines(specs: readonly OptionSpec[]): string[] {
  const left = specs.map(
    (s) => `${s.short ? `-${s.short}, ` : '    '}--${s.name}${s.arg ? ` ${s.arg}` : ''}${s.multiple ? ' ...' : ''}`,
  );
  const width = Math.max(...left.map((l) => l.length)) + 2;
  return specs.map((s, i) => `  ${left[i].padEnd(width)}${s.help}`);
}

const EXIT_STATUS = 'Exit status: 0 not tainted, 1 tainted, 2 error (check: 0 pass, 1 fail, 2 error).';

/** `kernel-taint --help`: every command with its options, from the declarations. */
export function globalHelp(version: string, commands: readonly Command[]): string {
  const lines = [`kernel-taint ${version}: read and explain Linux kernel taint`, '', 'Usage:'];
  for (const c of commands) lines.push(`  kernel-taint ${c.usage}`, `      ${c.summary}`);
  for (const c of commands) {
    lines.push('', `Options of ${c.name === 'report' ? 'the report (no command)' : `kernel-taint ${c.name}`}:`);
    lines.push(...optionLines(c.options));
  }
  lines.push('', 'Options of every command:', ...optionLines(GLOBAL_OPTIONS));
  lines.push('', 'Put `--` before an argument that starts with a dash.', '', EXIT_STATUS);
  return lines.join('\n');
}

/** `kernel-taint COMMAND --help`. */
export function commandHelp(version: string, c: Command): string {
  const lines = [`kernel-taint ${version}`, '', `Usage: kernel-taint ${c.usage}`, '', c.summary];
  if (c.details) lines.push('', c.details);
  lines.push('', 'Options:', ...optionLines([...c.options, ...GLOBAL_OPTIONS]), '', EXIT_STATUS);
  return lines.join('\n');
}

/**
 * `--journal FILE [--journal-mode M]` of watch and serve: loads the journal
 * module and checks the options first, then returns a synchronous opener, so
 * the journal subscribes to the watcher in the tick that created it (before
 * its initial change). The journal is given no log of its own: the records of
 * bits set at open take their evidence from the watcher's read of its log
 * (`--kmsg`, default /dev/kmsg without --path), the one read at start whether
 * the journal or the initial report asks first.
 */
export async function journalOption(
  values: OptionValues,
  io: Io,
  profile: Profile | undefined,
): Promise<(source: TaintSource) => TaintJournal | undefined> {
  const file = stringOption(values, 'journal');
  const modeText = stringOption(values, 'journal-mode');
  if (file === undefined) {
    if (modeText !== undefined) throw new UsageError('--journal-mode needs --journal FILE');
    return () => undefined;
  }
  const { openTaintJournal, parseJournalMode } = await import('../integrations/journal.js');
  const mode = modeText !== undefined ? parseJournalMode(modeText, '--journal-mode') : undefined;
  const path = stringOption(values, 'path');
  return (source) =>
    openTaintJournal(file, {
      ...(mode !== undefined ? { mode } : {}),
      env: io.env,
      source,
      ...(path ? { path } : {}),
      profile: profile ?? 'auto',
    });
}
