// One home for profile names: case-insensitive parsing, what `auto` resolves
// to (the running system for reads, a kernel release for text), and the
// detection of the running system's profile.
import { existsSync, readFileSync } from 'node:fs';
import { invalidArg } from './errors.js';
import { PROFILE_IDS, profileReleaseRules } from './flags.js';
import { atLeast, type KernelVersion, parseKernelVersion } from './kernel-version.js';
import type { Profile, ResolvedProfile } from './types.js';

/** Every accepted profile name, `auto` included. */
export const PROFILE_NAMES: readonly Profile[] = Object.freeze([...PROFILE_IDS, 'auto']);

/**
 * Normalises a profile name (case-insensitive: `RHEL8` → `rhel8`; `undefined`
 * → `auto`). Throws `ERR_KERNEL_TAINT_INVALID_ARG` for anything else.
 */
export function parseProfile(name: unknown): Profile {
  if (name === undefined) return 'auto';
  if (typeof name === 'string') {
    const p = name.trim().toLowerCase();
    if ((PROFILE_NAMES as readonly string[]).includes(p)) return p as Profile;
  }
  const shown = typeof name === 'string' ? `'${name}'` : String(name);
  throw invalidArg(`unknown profile ${shown}: expected one of ${PROFILE_NAMES.join(', ')}`);
}

/**
 * The concrete profile for `name`: itself when it names one, else what `auto`
 * stands for where it is used (a profile, or a function computing it lazily).
 */
export function resolveProfile(
  name: Profile | undefined,
  auto: ResolvedProfile | (() => ResolvedProfile),
): ResolvedProfile {
  const p = parseProfile(name);
  if (p !== 'auto') return p;
  return typeof auto === 'function' ? auto() : auto;
}

/**
 * The vendor profile a kernel release names (`4.18.0-477.el8.x86_64` → `rhel8`,
 * `6.12.0-55.el10` → `rhel10`; SUSE by its flavours and era: before 5.0
 * `suse-legacy`, else `suse`), else `mainline`. Read from each profile's
 * `release`, `releaseFrom` and `releaseBelow` in lib/flags.json.
 */
export function profileForRelease(release: string | null | undefined): ResolvedProfile {
  if (release) {
    let version: KernelVersion | null | undefined;
    for (const t of profileReleaseRules()) {
      if (!t.release?.test(release)) continue;
      if (t.releaseFrom !== null || t.releaseBelow !== null) {
        version ??= parseKernelVersion(release);
        if (version === null) {
          // No version to tell the eras apart: the current one.
          if (t.releaseBelow !== null) continue;
        } else {
          if (t.releaseFrom !== null && !atLeast(version, t.releaseFrom)) continue;
          if (t.releaseBelow !== null && atLeast(version, t.releaseBelow)) continue;
        }
      }
      return t.id;
    }
  }
  return 'mainline';
}

function readSmall(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

let systemProfile: ResolvedProfile | undefined;
/** The profile of the running system: RHEL/SUSE from the kernel release or /etc/os-release, Peios from its sysctl. */
export function detectProfile(): ResolvedProfile {
  if (systemProfile) return systemProfile;
  let p = profileForRelease(readSmall('/proc/sys/kernel/osrelease')?.trim());
  if (p === 'mainline') {
    const os = readSmall('/etc/os-release') ?? '';
    const ids = (os.match(/^ID(?:_LIKE)?=.*$/gm) ?? []).join(' ').toLowerCase();
    if (/peios/.test(ids)) p = 'peios';
    else if (/suse|sles/.test(ids)) p = 'suse';
    // existsSync: a failed read would cost an exception on every mainline host.
    else if (existsSync('/proc/sys/kernel/tainted_chars')) p = 'peios';
  }
  systemProfile = p;
  return p;
}
