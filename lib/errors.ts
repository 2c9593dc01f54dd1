import { getSystemErrorName } from 'node:util';
import type { NativeSysError } from './binding.js';

/** Codes of the errors this package throws (besides Node-style system errors). */
export type KernelTaintErrorCode =
  | 'ERR_KERNEL_TAINT_UNSUPPORTED'
  | 'ERR_KERNEL_TAINT_INVALID_VALUE'
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
  if (e.reason === 'empty') return new TaintValueError(`${e.path} is empty`, { path: e.path, content: '' });
  if (e.reason !== undefined) {
    const what = e.reason === 'range' ? 'a value that does not fit in 32 bits' : 'no decimal taint value';
    return new TaintValueError(`${e.path} holds ${what}: ${JSON.stringify(e.content)}`, {
      path: e.path,
      ...(e.content !== undefined ? { content: e.content } : {}),
    });
  }
  return systemError(e.errno, e.syscall, path);
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
