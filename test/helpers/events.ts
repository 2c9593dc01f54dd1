import type { EventEmitter } from 'node:events';

/**
 * Resolves with the arguments of the next `event` for which `accept` is true;
 * rejects after timeoutMs (a bound on a wait, never an assertion by itself).
 */
export function nextEvent<T extends unknown[] = unknown[]>(
  emitter: EventEmitter,
  event: string,
  opts: { timeoutMs?: number; accept?: (...args: T) => boolean } = {},
): Promise<T> {
  const { timeoutMs = 5000, accept } = opts;
  return new Promise<T>((resolve, reject) => {
    const onEvent = (...args: unknown[]): void => {
      if (accept && !accept(...(args as T))) return;
      cleanup();
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      emitter.off(event, onEvent);
    };
    emitter.on(event, onEvent);
  });
}

/**
 * The one wait helper: resolves with fn()'s first truthy value (fn may be
 * async), polling every `every` ms (default 5); rejects after timeoutMs with
 * `what` and, if given, `details()` (e.g. the logs of the processes waited on).
 * An error thrown by fn ends the wait at once.
 */
export async function until<T>(
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  timeoutMs = 5000,
  what = 'condition',
  opts: { every?: number; details?: () => string } = {},
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) {
      const details = opts.details?.();
      throw new Error(`timed out waiting for ${what}${details ? `\n${details}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, opts.every ?? 5));
  }
}

/** `until` for a boolean check. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  await until(check, timeoutMs, what);
}

/** Lets pending I/O callbacks (thread-safe function calls) run. */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
