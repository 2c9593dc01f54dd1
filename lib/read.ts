import { existsSync, readFileSync } from 'node:fs';
import { type NativeBinding, native } from './binding.js';
import { stateOf } from './decode.js';
import { describeValue, fromNative, invalidArg } from './errors.js';
import { profileTable } from './flags.js';
import { detectProfile, resolveProfile } from './profiles.js';
import type { FlagSelector, Profile, TaintState } from './types.js';

export { detectProfile };

/** The sysctl every reader uses unless told otherwise. */
export const TAINT_PATH = '/proc/sys/kernel/tainted';
/** Peios exposes the letters of the set bits here. */
export const TAINTED_CHARS_PATH = '/proc/sys/kernel/tainted_chars';

export interface ReadOptions {
  /** File to read instead of /proc/sys/kernel/tainted (tests, containers with a bind-mounted /proc). */
  path?: string;
}

// Handles of kept descriptors by path. The default path stays open for the
// life of the environment; other paths are kept too, up to a bound, so that a
// program that reads many temp files does not run out of descriptors.
const MAX_KEPT = 16;
const handles = new Map<string, number>();
// The hot path of readTaintValue(): the addon's readValue (a plain Node-API
// function that ignores `this`) and the handle of the default sysctl.
let fastRead: NativeBinding['readValue'] | null = null;
let fastHandle = -1;

/** @internal Validates a file path option: a non-empty string without NUL bytes (a NUL would cut it short). */
export function checkPath(path: unknown, name = 'path'): string {
  if (typeof path !== 'string' || path.length === 0) {
    throw invalidArg(`${name} must be a non-empty string, got ${describeValue(path)}`);
  }
  if (path.includes('\0')) throw invalidArg(`${name} must not contain a NUL byte: ${JSON.stringify(path)}`);
  return path;
}

function handleFor(path: string): number {
  const h = handles.get(path);
  if (h !== undefined) return h;
  const r = native().openReader(path);
  if (typeof r !== 'number') throw fromNative(r);
  if (handles.size >= MAX_KEPT) {
    for (const [p, old] of handles) {
      if (p === TAINT_PATH) continue;
      native().closeReader(old);
      handles.delete(p);
      break;
    }
  }
  handles.set(path, r);
  return r;
}

/**
 * Reads the raw taint value: one `pread` on a descriptor kept open, no string
 * allocation. Throws a Node-style system error (`code`, `errno`, `syscall`,
 * `path`) when the file cannot be read, a `TaintValueError`
 * (`ERR_KERNEL_TAINT_INVALID_VALUE`) when it holds no taint value, and
 * `ERR_KERNEL_TAINT_UNSUPPORTED` off Linux.
 *
 * @example
 * readTaintValue() // 0 on a clean kernel
 */
export function readTaintValue(opts?: ReadOptions): number {
  // Hot path: the default sysctl through a handle opened on first use.
  if (fastRead !== null && opts?.path === undefined) {
    const v = fastRead(fastHandle);
    if (typeof v === 'number') return v;
  }
  const path = opts?.path === undefined ? TAINT_PATH : checkPath(opts.path);
  const b = native();
  const h = handleFor(path);
  const v = b.readValue(h);
  if (typeof v === 'number') {
    if (path === TAINT_PATH) {
      fastRead = b.readValue;
      fastHandle = h;
    }
    return v;
  }
  // The native reader re-opens a replaced file by itself; after a failure,
  // drop the descriptor anyway so the next call starts from a fresh open.
  b.closeReader(h);
  handles.delete(path);
  if (path === TAINT_PATH) fastRead = null;
  throw fromNative(v);
}

/** Closes every kept descriptor (they reopen on the next read). */
export function closeReaders(): void {
  for (const h of handles.values()) native().closeReader(h);
  handles.clear();
  fastRead = null;
}

export interface ReadTaintOptions extends ReadOptions {
  /** Flag table; `auto` (default) picks one from /proc/sys/kernel/osrelease and /etc/os-release. */
  profile?: Profile;
  /** Where Peios-style letters live (default /proc/sys/kernel/tainted_chars; tests point it elsewhere). */
  charsPath?: string;
}

/** A read state: the decoded value plus what the kernel's own letters said, if it prints them. */
export interface ReadTaintState extends TaintState {
  /** Contents of tainted_chars when the kernel exposes it, else null. */
  readonly kernelLetters: string | null;
  /** The kernel's letters disagree with the decoded value (reported, never hidden). */
  readonly lettersMismatch: boolean;
}

function readSmall(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

// Sysctls do not appear at run time: look for tainted_chars once, not on
// every read (a failed open costs more than the whole read).
let taintedChars: boolean | undefined;
function hasTaintedChars(): boolean {
  taintedChars ??= existsSync(TAINTED_CHARS_PATH);
  return taintedChars;
}

/**
 * Reads and decodes the taint value. Where the kernel exposes
 * `/proc/sys/kernel/tainted_chars` (Peios) it is read too, and a disagreement
 * is reported in `lettersMismatch` rather than hidden.
 *
 * @example
 * const t = readTaint();
 * if (t.tainted) console.log(`${t}`); // Tainted: [W]=WARN
 */
export function readTaint(opts: ReadTaintOptions = {}): ReadTaintState {
  if (typeof opts !== 'object' || opts === null)
    throw invalidArg(`readTaint options must be an object, got ${describeValue(opts)}`);
  if (opts.charsPath !== undefined) checkPath(opts.charsPath, 'charsPath');
  const value = readTaintValue(opts);
  const profile = resolveProfile(opts.profile, detectProfile);
  const state = stateOf(value, profileTable(profile));
  const charsPath = opts.charsPath ?? (opts.path === undefined && hasTaintedChars() ? TAINTED_CHARS_PATH : undefined);
  const chars = charsPath ? readSmall(charsPath) : null;
  const kernelLetters = chars === null ? null : chars.trim();
  const lettersMismatch = kernelLetters !== null && kernelLetters !== state.letters;
  return withKernelLetters(state, kernelLetters, lettersMismatch);
}

// The common case (no tainted_chars) wraps each state once.
const plainWrappers = new WeakMap<TaintState, ReadTaintState>();

function withKernelLetters(state: TaintState, kernelLetters: string | null, lettersMismatch: boolean): ReadTaintState {
  if (kernelLetters === null) {
    let w = plainWrappers.get(state);
    if (!w) {
      w = wrap(state, null, false);
      plainWrappers.set(state, w);
    }
    return w;
  }
  return wrap(state, kernelLetters, lettersMismatch);
}

function wrap(state: TaintState, kernelLetters: string | null, lettersMismatch: boolean): ReadTaintState {
  const out = Object.create(state, {
    kernelLetters: { value: kernelLetters, enumerable: true },
    lettersMismatch: { value: lettersMismatch, enumerable: true },
    // The prototype's methods use private state: call them on the original.
    has: { value: (flag: FlagSelector) => state.has(flag as string) },
    toString: { value: () => state.toString() },
    toJSON: {
      value: () => ({ ...state.toJSON(), kernelLetters, lettersMismatch }),
    },
  }) as ReadTaintState;
  return Object.freeze(out);
}
