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

/** The one wait helper: resolves with fn()'s first truthy value (polling every 5 ms); rejects after timeoutMs. */
export async function until<T>(
  fn: () => T | undefined | null | false,
  timeoutMs = 5000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
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
