import { describeValue, KernelTaintError } from './errors.js';

/** A kernel release reduced to what matters for taint: major, minor, patch. */
export interface KernelVersion {
  readonly major: number;
  readonly minor: number;
  readonly patch: number;
  /** The release as given, e.g. `6.12.107-cloud-amd64`. */
  readonly release: string;
}

const VERSION_RE = /^\(?v?(\d+)\.(\d+)(?:\.(\d+))?/;

/** Parses `6.12.107`, `5.14.0-427.el9.x86_64`, `2.6.32-131.0.15.el6`; `null` when it is not a release. */
export function parseKernelVersion(release: string): KernelVersion | null {
  if (typeof release !== 'string') {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_INVALID_ARG',
      `a kernel release must be a string, got ${describeValue(release)}`,
    );
  }
  const m = VERSION_RE.exec(release.trim());
  if (!m) return null;
  return { major: Number(m[1]), minor: Number(m[2]), patch: Number(m[3] ?? 0), release: release.trim() };
}

/** Compares two versions (negative, zero, positive), ignoring anything after the patch level. */
export function compareVersions(a: KernelVersion, b: KernelVersion): number {
  return a.major - b.major || a.minor - b.minor || a.patch - b.patch;
}

/** `a >= b`, with `b` given as text (`'6.11'`). */
export function atLeast(a: KernelVersion, b: string): boolean {
  const v = parseKernelVersion(b);
  if (!v) throw new KernelTaintError('ERR_KERNEL_TAINT_INVALID_ARG', `not a kernel version: ${b}`);
  return compareVersions(a, v) >= 0;
}
