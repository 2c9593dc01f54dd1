// The CLI's I/O: output functions, colour, stdin, stop signal. Tests pass
// their own Io to main().
import { createRequire } from 'node:module';
import { inspect, styleText } from 'node:util';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** Whether stdout is a terminal (colour is used only there unless forced). */
  isTTY: boolean;
  env: NodeJS.ProcessEnv;
  stdin: () => Promise<string>;
  /** The standard input as a stream (`parse` reads it line by line); tests may leave it out. */
  stdinStream?: () => AsyncIterable<Uint8Array | string>;
  /** Standard output as a stream, so long outputs wait for it to drain. */
  stdout?: import('node:stream').Writable;
  /** Stops `watch` and `serve` (default: SIGINT/SIGTERM). */
  signal?: AbortSignal;
}

export const defaultIo = (): Io => ({
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

export type Style = 'red' | 'yellow' | 'green' | 'dim' | 'bold';
export type Paint = (style: Style, s: string) => string;

/**
 * Whether to colour: `--color`/`--no-color` win; else a terminal whose
 * environment allows colour (Node's `hasColors()`: NO_COLOR, FORCE_COLOR,
 * TERM=dumb), or FORCE_COLOR when not a terminal.
 */
export function useColor(flag: boolean | undefined, io: Io): boolean {
  if (flag !== undefined) return flag;
  const forced = io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== '';
  if (!io.isTTY && !forced) return false;
  // node:tty on demand: a piped `kernel-taint --json` never needs it.
  const { WriteStream } = createRequire(import.meta.url)('node:tty') as typeof import('node:tty');
  return WriteStream.prototype.hasColors(io.env);
}

function style(s: Style, text: string): string {
  if (typeof styleText === 'function') {
    // Node ≥ 20.12; the decision was made by useColor(), so skip its stream check.
    return (styleText as (f: Style, t: string, o?: { validateStream?: boolean }) => string)(s, text, {
      validateStream: false,
    });
  }
  const [open, close] = inspect.colors[s] ?? [0, 0];
  return `\x1b[${open}m${text}\x1b[${close}m`;
}

export function painter(enabled: boolean): Paint {
  return enabled ? style : (_s, text) => text;
}

/** `kernel-taint: message (CODE)`. */
export function errorLine(e: unknown): string {
  const err = e as Error & { code?: string };
  return `kernel-taint: ${err?.message ?? String(e)}${err?.code ? ` (${err.code})` : ''}`;
}

/** The stop signal of `watch`/`serve`: io.signal, else SIGINT/SIGTERM. */
export function stopSignal(io: Io): { signal: AbortSignal; dispose: () => void } {
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

export function untilAborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
