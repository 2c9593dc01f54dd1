// boot_id and the per-boot baseline file ("only new since boot").
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  constants,
  fchmodSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { basename, dirname, join } from 'node:path';
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

/**
 * Creates a new file in `dir` under a random name with O_CREAT | O_EXCL |
 * O_NOFOLLOW (mode 0600): a planted file or symlink can never be opened in
 * its place. Returns the descriptor and the name.
 */
export function createExclusive(dir: string, prefix: string): { fd: number; path: string } {
  for (let attempt = 0; ; attempt++) {
    const path = join(dir, `.${prefix}.${randomBytes(8).toString('hex')}.tmp`);
    try {
      const fd = openSync(
        path,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
      return { fd, path };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 8) throw e;
    }
  }
}

/**
 * Writes `text` to `file` atomically: a random, exclusively created temp file
 * (never a predictable name a symlink could be planted at), fsync, rename,
 * fsync of the directory. Errors name `file`.
 */
export function writeFileAtomic(file: string, text: string, mode = 0o600): void {
  let tmp: { fd: number; path: string } | undefined;
  try {
    tmp = createExclusive(dirname(file), basename(file));
    try {
      fchmodSync(tmp.fd, mode);
      writeSync(tmp.fd, text);
      fsyncSync(tmp.fd);
    } finally {
      closeSync(tmp.fd);
    }
    renameSync(tmp.path, file);
    tmp = undefined;
  } catch (e) {
    if (tmp) {
      try {
        unlinkSync(tmp.path);
      } catch {
        // Gone already.
      }
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.path === 'string' && err.path !== file) {
      err.message = err.message.split(err.path).join(file);
      err.path = file;
    }
    throw e;
  }
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
