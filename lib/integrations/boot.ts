// boot_id and the per-boot baseline file ("only new since boot").
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { readBootId } from '../boot-id.js';
import { KernelTaintError } from '../errors.js';

export { BOOT_ID_PATH, readBootId } from '../boot-id.js';

/** What a baseline file holds. */
export interface BootBaseline {
  readonly bootId: string | null;
  /** The taint value first observed on this boot. */
  readonly value: number;
  /** ISO time of that observation. */
  readonly time: string;
  /** `true` when this call created the baseline (first observation on this boot). */
  readonly created: boolean;
}

/** Writes `text` to `file` atomically: temp file, fsync, rename, fsync of the directory. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w', 0o644);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
  fsyncDir(dirname(file));
}

/** fsync a directory so a created or renamed entry survives a crash (best effort). */
export function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Some file systems refuse fsync on directories; the data itself is synced.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Returns the baseline of this boot kept in `file`, creating it with
 * `currentValue` when the file is missing or belongs to another boot. This is
 * how "only new since boot" survives restarts of the checker.
 *
 * @example
 * const b = bootBaseline('/var/lib/myapp/taint-baseline.json', readTaintValue());
 * classifyTaint(readTaint(), { onlyNewSinceBoot: true }, { baseline: b.value });
 */
export function bootBaseline(file: string, currentValue: number, opts: { bootIdPath?: string } = {}): BootBaseline {
  const bootId = readBootId(opts.bootIdPath);
  let text: string | null = null;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  if (text !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', `${file} is not a baseline file (not JSON)`, {
        cause: e,
      });
    }
    const p = parsed as Partial<BootBaseline>;
    if (typeof p !== 'object' || p === null || typeof p.value !== 'number' || typeof p.time !== 'string') {
      throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', `${file} is not a baseline file`);
    }
    if (p.bootId === bootId) return Object.freeze({ bootId, value: p.value >>> 0, time: p.time, created: false });
  }
  const rec = { bootId, value: currentValue >>> 0, time: new Date().toISOString() };
  writeFileAtomic(file, `${JSON.stringify(rec)}\n`);
  return Object.freeze({ ...rec, created: true });
}
