// Temp taint files for watcher tests. Values are written in place with one
// pwrite of a fixed width ("0000000512\n"): writeFileSync would truncate first,
// and a watcher woken between the truncate and the write reads an empty file.
// Temp directories come from test/helpers/tmp.ts.
import { closeSync, openSync, readdirSync, readFileSync, readlinkSync, writeSync } from 'node:fs';

export function encodeValue(value: number): string {
  return `${String(value >>> 0).padStart(10, '0')}\n`;
}

/** Writes value in place (one pwrite at offset 0, fixed width). Creates the file if needed. */
export function writeValue(path: string, value: number): void {
  const fd = openSync(path, 'a+');
  closeSync(fd);
  const w = openSync(path, 'r+');
  try {
    writeSync(w, encodeValue(value), 0);
  } finally {
    closeSync(w);
  }
}

/** Counts this process's open descriptors. */
export function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * Descriptors of this process whose target contains `kind` (e.g.
 * `perf_event` for `anon_inode:[perf_event]`). An fd closed while the
 * directory is read is skipped, not an error.
 */
export function fdsOfKind(kind: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).includes(kind)) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}

/** Threads of this process with the given name (comm). */
export function threadsNamed(name: string): number {
  let n = 0;
  for (const t of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() === name) n++;
    } catch {
      // the thread exited while we looked
    }
  }
  return n;
}

export function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

export const WATCH_THREAD = 'kernel-taint';

/** How many descriptors of this process are open on `path`. */
export function fdsOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed meanwhile
    }
  }
  return n;
}
