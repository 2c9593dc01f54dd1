// Privilege- and kernel-gated tests skip with a message saying how to enable them.
import { closeSync, openSync } from 'node:fs';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

function canOpenKmsg(flags: 'r' | 'r+'): boolean {
  try {
    closeSync(openSync('/dev/kmsg', flags));
    return true;
  } catch {
    return false;
  }
}

/** Whether this process can read /dev/kmsg (dmesg_restrict hides it from non-root users). */
export function canReadKmsg(): boolean {
  return canOpenKmsg('r');
}

export const SKIP_ROOT = 'needs root (run the suite as root, e.g. in the CI container) to ';

/** Whether this process can both read and write /dev/kmsg (root without dmesg_restrict surprises). */
export function canUseKmsg(): boolean {
  return canOpenKmsg('r+');
}

export const SKIP_KMSG =
  'needs a readable and writable /dev/kmsg (run the suite as root outside a container that hides it) to ';
