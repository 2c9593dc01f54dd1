// Privilege- and kernel-gated tests skip with a message saying how to enable them.
import { closeSync, openSync } from 'node:fs';

export const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;

export function canReadKmsg(): boolean {
  try {
    closeSync(openSync('/dev/kmsg', 'r'));
    return true;
  } catch {
    return false;
  }
}

export const SKIP_ROOT = 'needs root (run the suite as root, e.g. in the CI container) to ';

/** Whether this process can both read and write /dev/kmsg (root without dmesg_restrict surprises). */
export function canUseKmsg(): boolean {
  try {
    closeSync(openSync('/dev/kmsg', 'r+'));
    return true;
  } catch {
    return false;
  }
}

export const SKIP_KMSG =
  'needs a readable and writable /dev/kmsg (run the suite as root outside a container that hides it) to ';
