// The random id of the current boot: taint values from different boots are
// not comparable (bits are only cleared by a reboot).
import { readFileSync } from 'node:fs';

/** Where the kernel exposes the random id of the current boot. */
export const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/**
 * The current boot id (`/proc/sys/kernel/random/boot_id`), or `null` where it
 * cannot be read. `path` overrides the file (tests).
 *
 * @example
 * readBootId(); // 'c1f0b7e2-9d3a-4c55-8a0e-2f6c1d7b9e10'
 */
export function readBootId(path: string = BOOT_ID_PATH): string | null {
  try {
    const id = readFileSync(path, 'utf8').trim();
    return id.length > 0 ? id : null;
  } catch {
    return null;
  }
}
