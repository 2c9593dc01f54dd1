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

/** Waits until check() is true, polling every few ms; rejects after timeoutMs. */
export async function waitFor(check: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Lets pending I/O callbacks (thread-safe function calls) run. */
export function settle(ms = 50): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
