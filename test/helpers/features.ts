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
