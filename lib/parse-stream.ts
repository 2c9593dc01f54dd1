// The `kernel-taint parse` command as functions: read a log as a stream, print
// each report as it is found (text, or one compact JSON line per report), end
// with the verdict for the log, then a separate line about this host. Memory
// stays bounded whatever the size of the log: nothing is collected.
import { createReadStream } from 'node:fs';
import type { Writable } from 'node:stream';
import {
  type ParseOptions,
  parseTaintLog,
  severityOf,
  type TaintLogSource,
  type TaintReport,
  TaintVerdict,
} from './parse.js';
import { readTaint } from './read.js';
import type { Profile, TaintState } from './types.js';

/** A state as one compact JSON object: flags by letter, bit and name, without their descriptions. */
export interface CompactTaintState {
  tainted: boolean;
  value: number;
  profile: string;
  flags: { letter: string; bit: number; name: string }[];
  unknownLetters?: string[];
  unknownNames?: Record<string, string>;
  unknownValue?: true;
}

export function compactState(s: TaintState): CompactTaintState {
  const out: CompactTaintState = {
    tainted: s.tainted,
    value: s.value,
    profile: s.profile,
    flags: s.flags.map((f) => ({ letter: f.letter, bit: f.bit, name: f.name })),
  };
  if (s.unknownLetters.length > 0) out.unknownLetters = [...s.unknownLetters];
  if (Object.keys(s.unknownNames ?? {}).length > 0) out.unknownNames = { ...s.unknownNames };
  if (s.unknownValue) out.unknownValue = true;
  return out;
}

/** One report as a JSON line's object (`type: 'report'`). */
export function compactReport(r: TaintReport): Record<string, unknown> {
  return {
    type: 'report',
    line: r.line,
    kind: r.kind,
    release: r.release,
    comm: r.comm,
    ...compactState(r.state),
    ...(r.modules.length > 0 ? { modules: r.modules } : {}),
    ...(r.truncated ? { truncated: true } : {}),
  };
}

export function reportLine(r: TaintReport): string {
  const where = [r.release && `kernel ${r.release}`, r.comm && `comm ${r.comm}`].filter(Boolean).join(', ');
  const what =
    r.kind === 'modules' || r.kind === 'unloaded'
      ? r.modules
          .filter((m) => m.letters)
          .map((m) => `${m.name}(${m.letters})`)
          .join(' ')
      : `${r.state}`;
  return `line ${r.line} ${r.kind}${where ? ` (${where})` : ''}: ${what || 'no tainting modules'}`;
}

/** The text verdict line for a log. */
export function verdictLine(v: TaintVerdict): string {
  const state = v.state;
  if (state === null) return `Log: no taint information (${v.reports} reports)`;
  const newest = v.newest ? `newest report line ${v.newest.line}` : 'module lines only';
  const worst = v.worst ? `; worst: ${severityOf(v.worst.state)} at line ${v.worst.line}` : '';
  return `Log: ${state} (${newest}; ${v.reports} report${v.reports === 1 ? '' : 's'}${worst})`;
}

export interface ParseCommandOptions {
  /** The log file; stdin when undefined or `-`. */
  file?: string | undefined;
  json?: boolean | undefined;
  profile?: Profile | undefined;
  /** Where to read this host's taint (default /proc/sys/kernel/tainted). */
  path?: string | undefined;
}

export interface ParseCommandIo {
  /** Writes one line (without newline). */
  out: (s: string) => void;
  /** Where output goes when it is a stream: writes wait for it to drain (bounded memory). */
  stdout?: Writable | undefined;
  /** The standard input as a stream of chunks. */
  stdin?: (() => TaintLogSource) | undefined;
  /** The standard input read whole (tests); used when `stdin` is absent. */
  stdinText?: (() => Promise<string>) | undefined;
}

async function* fromText(read: () => Promise<string>): AsyncGenerator<string> {
  yield await read();
}

function writer(io: ParseCommandIo): (s: string) => void | Promise<void> {
  const out = io.stdout;
  if (!out) return io.out;
  return (s) => {
    if (out.write(`${s}\n`)) return;
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        out.off('drain', done);
        out.off('error', done);
        out.off('close', done);
        if (err) reject(err);
        else resolve();
      };
      out.once('drain', done);
      out.once('error', done);
      out.once('close', done);
    });
  };
}

/**
 * Runs `kernel-taint parse`: prints every report, the log's verdict and this
 * host's state; resolves to the exit code (1 when the log ends tainted — the
 * same answer as parseTaint() on the same text — else 0). Throws coded errors
 * (bad profile, unreadable file) for the caller to print.
 */
export async function runParseCommand(opts: ParseCommandOptions, io: ParseCommandIo): Promise<number> {
  const parseOpts: ParseOptions = opts.profile !== undefined ? { profile: opts.profile } : {};
  const source: TaintLogSource =
    opts.file !== undefined && opts.file !== '-'
      ? createReadStream(opts.file, { highWaterMark: 256 * 1024 })
      : io.stdin
        ? io.stdin()
        : io.stdinText
          ? fromText(io.stdinText)
          : (process.stdin as unknown as TaintLogSource);
  const write = writer(io);
  const verdict = new TaintVerdict();
  for await (const r of parseTaintLog(source, parseOpts)) {
    verdict.add(r);
    const pending = write(opts.json ? JSON.stringify(compactReport(r)) : reportLine(r));
    if (pending) await pending;
  }
  let host: TaintState | null = null;
  try {
    host = readTaint(opts.path ? { path: opts.path } : {});
  } catch {
    host = null;
  }
  const state = verdict.state;
  const lines: string[] = [];
  if (opts.json) {
    lines.push(
      JSON.stringify({
        type: 'verdict',
        reports: verdict.reports,
        tainted: state?.tainted ?? false,
        newestLine: verdict.newest?.line ?? null,
        state: state ? compactState(state) : null,
        worst: verdict.worst ? { line: verdict.worst.line, status: severityOf(verdict.worst.state) } : null,
      }),
      JSON.stringify({ type: 'host', state: host ? compactState(host) : null }),
    );
  } else {
    if (verdict.reports === 0) lines.push('No taint information found in the input.');
    lines.push(verdictLine(verdict));
    lines.push(host ? `This host now: ${host}` : 'This host now: (its kernel cannot be read here)');
  }
  for (const l of lines) {
    const pending = write(l);
    if (pending) await pending;
  }
  return state?.tainted ? 1 : 0;
}
