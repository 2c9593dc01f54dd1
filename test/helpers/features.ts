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

/**
 * Writing /dev/kmsg puts test lines in the kernel log of the machine the suite
 * runs on: allowed only where that is fine (a QEMU guest, a throwaway machine)
 * and asked for with KT_KMSG_WRITE=1.
 */
export const kmsgWritesAllowed = process.env.KT_KMSG_WRITE === '1';

/** Whether this process may and can both read and write /dev/kmsg (root without dmesg_restrict surprises). */
export function canUseKmsg(): boolean {
  return kmsgWritesAllowed && canOpenKmsg('r+');
}

export const SKIP_KMSG =
  'needs KT_KMSG_WRITE=1 (test lines go to the kernel log: a QEMU guest or a throwaway machine) and a readable and writable /dev/kmsg (root outside a container that hides it) to ';
