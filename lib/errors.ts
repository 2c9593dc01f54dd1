import { getSystemErrorName } from 'node:util';
import type { NativeSysError } from './binding.js';

/** Codes of the errors this package throws (besides Node-style system errors). */
export type KernelTaintErrorCode =
  | 'ERR_KERNEL_TAINT_UNSUPPORTED'
  | 'ERR_KERNEL_TAINT_INVALID_VALUE'
  | 'ERR_KERNEL_TAINT_NOT_A_FILE'
  | 'ERR_KERNEL_TAINT_INVALID_ARG'
  | 'ERR_KERNEL_TAINT_UNKNOWN_FLAG'
  | 'ERR_KERNEL_TAINT_NO_VERBOSE'
  | 'ERR_KERNEL_TAINT_CLOSED'
  | 'ERR_KERNEL_TAINT_INVALID_POLICY'
  | 'ERR_KERNEL_TAINT_UNHEALTHY'
  | 'ERR_KERNEL_TAINT_MISSING_PEER'
  | 'ERR_KERNEL_TAINT_JOURNAL_LOCKED'
  | 'ERR_KERNEL_TAINT_JOURNAL_CORRUPT'
  | 'ERR_KERNEL_TAINT_JOURNAL_WRITE';

/** Base class of every error this package throws itself; `code` is stable. */
export class KernelTaintError extends Error {
  readonly code: KernelTaintErrorCode;
  constructor(code: KernelTaintErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'KernelTaintError';
    this.code = code;
  }
}

/** A value or file content that is not a taint value (empty, not decimal, out of range). */
export class TaintValueError extends KernelTaintError {
  readonly path?: string;
  readonly content?: string;
  constructor(message: string, extra: { path?: string; content?: string } = {}) {
    super('ERR_KERNEL_TAINT_INVALID_VALUE', message);
    this.name = 'TaintValueError';
    if (extra.path !== undefined) this.path = extra.path;
    if (extra.content !== undefined) this.content = extra.content;
  }
}

/**
 * The taint path names something other than a regular file (procfs and sysfs
 * files are regular files): a FIFO, socket or device could block a read
 * forever, so it is refused without reading. `fileType` names what it is.
 */
export class NotAFileError extends KernelTaintError {
  readonly path: string;
  readonly syscall: string;
  readonly fileType: string;
  constructor(path: string, fileType: string, syscall = 'open') {
    super('ERR_KERNEL_TAINT_NOT_A_FILE', `${path} is a ${fileType}, not a regular file: refusing to read it`);
    this.name = 'NotAFileError';
    this.path = path;
    this.syscall = syscall;
    this.fileType = fileType;
  }
}

/**
 * An operation ended by its `AbortSignal`. Shaped like Node's own AbortError:
 * `code` is the string `'ABORT_ERR'` (a DOMException's numeric `code` 20 is
 * not), and the signal's reason is the `cause`.
 */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/** Reading or watching cannot work here (not Linux, or the native addon did not load). */
export class UnsupportedError extends KernelTaintError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_KERNEL_TAINT_UNSUPPORTED', message, options);
    this.name = 'UnsupportedError';
  }
}

/** A failed system call, shaped like Node's own fs errors. */
export interface SystemError extends Error {
  code: string;
  errno: number;
  syscall: string;
  path?: string;
}

const DESCRIPTIONS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'illegal operation on a directory',
  ENOTDIR: 'not a directory',
  EMFILE: 'too many open files',
  ENFILE: 'file table overflow',
  EIO: 'i/o error',
  EINVAL: 'invalid argument',
  ENOSPC: 'no space left on device',
};

/** Builds `ENOENT: no such file or directory, open '/x'` with code/errno/syscall/path, as `fs` does. */
export function systemError(errno: number, syscall: string, path?: string): SystemError {
  const n = errno > 0 ? -errno : errno;
  let code: string;
  try {
    code = getSystemErrorName(n);
  } catch {
    code = `E${-n}`;
  }
  const what = DESCRIPTIONS[code] ?? code.toLowerCase();
  const err = new Error(`${code}: ${what}, ${syscall}${path === undefined ? '' : ` '${path}'`}`) as SystemError;
  err.code = code;
  err.errno = n;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}

export function invalidArg(message: string): KernelTaintError {
  return new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', message);
}

/**
 * The one mapping of an error that came back from the addon to a JS error:
 * content errors become `TaintValueError` (`ERR_KERNEL_TAINT_INVALID_VALUE`,
 * with `path` and `content`), failed system calls Node-style system errors.
 */
export function fromNative(e: NativeSysError): Error {
  const path = e.path || undefined;
  const content = { path: e.path, ...(e.content !== undefined ? { content: e.content } : {}) };
  switch (e.reason) {
    case undefined:
      return systemError(e.errno, e.syscall, path);
    case 'empty':
      return new TaintValueError(`${e.path} is empty`, { path: e.path, content: '' });
    case 'range':
      return new TaintValueError(
        `${e.path} holds a value that does not fit in 32 bits: ${JSON.stringify(e.content)}`,
        content,
      );
    case 'long':
      return new TaintValueError(
        `${e.path} holds more than 32 bytes, which is no taint value: ${JSON.stringify(e.content)}...`,
        content,
      );
    case 'type':
      return new NotAFileError(e.path, e.content ?? 'special file', e.syscall || 'open');
    case 'unused':
      return invalidArg(e.content ?? 'unused');
    case 'unavailable':
      return new UnsupportedError(e.content ?? 'unavailable here');
    default:
      return new TaintValueError(`${e.path} holds no decimal taint value: ${JSON.stringify(e.content)}`, content);
  }
}

/** A short description of a bad argument for messages: `42 (number)`, `null`, `an object`. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (v === undefined) return 'undefined';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return `${String(v)} (${typeof v})`;
  if (Array.isArray(v)) return 'an array';
  return `a ${typeof v}`;
}

/**
 * What `'error'` events of a watcher or journal carry: a coded package error
 * or a Node-style system error. Both have a string `code`, so
 * `w.on('error', (err) => err.code)` compiles under `--strict`.
 */
export type TaintError = KernelTaintError | SystemError;
