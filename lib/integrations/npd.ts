// node-problem-detector's custom plugin protocol for `kernel-taint check
// --format=npd`. NPD runs the plugin, maps its exit status (0 OK, 1 NonOK,
// anything else Unknown), trims stdout and cuts it at `max_output_length`
// bytes (default 80) for the condition message; it logs stderr. So the whole
// message is one line of at most 80 bytes on stdout, and the details go to
// stderr.
import type { TaintClassification, TaintReason, TaintStatus } from './policy.js';

/** NPD's default `max_output_length`: the bytes of stdout kept as the condition message. */
export const NPD_MAX_MESSAGE_BYTES = 80;

/** Exit statuses of the NPD plugin protocol. */
export const NPD_EXIT = { ok: 0, nonOk: 1, unknown: 2 } as const;

/** What `formatNpd` returns: the process exit status and what goes to stdout and stderr. */
export interface NpdResult {
  readonly exitCode: 0 | 1 | 2;
  /** The condition message: one line, at most `maxBytes` bytes (ASCII only). */
  readonly message: string;
  /** Details for NPD's log (plugin stderr), one line per set flag. */
  readonly details: readonly string[];
}

/** Cuts `text` to `maxBytes` bytes of printable ASCII, ending in `...` when cut. */
export function npdMessage(text: string, maxBytes = NPD_MAX_MESSAGE_BYTES): string {
  // One line of printable ASCII: byte length is the character count, so a cut
  // never splits a UTF-8 sequence (NPD cuts bytes).
  const flat = text
    .replace(/[\r\n\t]+/g, ' ')
    .replace(/[^\x20-\x7e]/g, '?')
    .trim();
  if (flat.length <= maxBytes) return flat;
  return `${flat.slice(0, Math.max(0, maxBytes - 3)).trimEnd()}...`;
}

function listFlags(reasons: readonly TaintReason[]): string {
  return reasons.map((r) => `${r.letter} ${r.name}`).join(', ');
}

/**
 * The NPD form of a `check` result: exit status (0 OK, 1 NonOK, 2 Unknown),
 * a one-line message of at most 80 bytes naming the status, the letters and
 * the flags that decided it, and one detail line per set flag.
 *
 * @example
 * const r = formatNpd(classifyTaint(readTaint(), policy), { failOn: 'fail' });
 * process.stdout.write(`${r.message}\n`);
 * process.exitCode = r.exitCode;
 */
export function formatNpd(
  c: Pick<TaintClassification, 'status' | 'reasons' | 'value' | 'letters'>,
  opts: { failOn?: 'warn' | 'fail'; maxBytes?: number } = {},
): NpdResult {
  const failOn = opts.failOn ?? 'fail';
  const bad: TaintStatus[] = failOn === 'warn' ? ['warn', 'fail'] : ['fail'];
  const exitCode = bad.includes(c.status) ? NPD_EXIT.nonOk : NPD_EXIT.ok;
  const details = c.reasons.map(
    (r) => `[${r.letter}] ${r.name} (${r.category}) ${r.status}: ${r.message.replace(/\s+/g, ' ')}`,
  );
  let text: string;
  if (c.value === 0) text = `${c.status.toUpperCase()}: kernel not tainted`;
  else {
    const worst = c.reasons.filter((r) => r.status === c.status);
    const head = `${c.status.toUpperCase()}: kernel tainted ${c.letters || '?'} (${c.value})`;
    text = worst.length && c.status !== 'pass' ? `${head}: ${listFlags(worst)}` : `${head}, all allowed`;
  }
  return { exitCode, message: npdMessage(text, opts.maxBytes), details };
}

/**
 * The NPD form of a failed check (the taint could not be read, a bad policy):
 * exit status 2 (Unknown) and a message naming the error code.
 *
 * @example
 * formatNpdError(err).message; // 'UNKNOWN: ENOENT: cannot read /proc/sys/kernel/tainted ...'
 */
export function formatNpdError(err: Error & { code?: string }, opts: { maxBytes?: number } = {}): NpdResult {
  // Node's system errors already start with their code (`ENOENT: no such file...`).
  const code = err.code && !err.message.startsWith(err.code) ? `${err.code}: ` : '';
  return {
    exitCode: NPD_EXIT.unknown,
    message: npdMessage(`UNKNOWN: ${code}${err.message}`, opts.maxBytes),
    details: [],
  };
}
