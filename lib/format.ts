import { toTaintValue } from './decode.js';
import { invalidArg, KernelTaintError } from './errors.js';
import { type ProfileTable, profileTable } from './flags.js';
import { atLeast, type KernelVersion, parseKernelVersion } from './kernel-version.js';
import { profileForRelease, resolveProfile } from './profiles.js';
import type { Profile } from './types.js';

export { profileForRelease };

/** First release that prints the verbose `Tainted: [X]=NAME` line. */
export const VERBOSE_SINCE = '6.11.0';

/**
 * Until the buffer was sized for the longest line, the kernel built the verbose
 * line in `static char buf[sizeof(taint_flags)]`: 16 bytes per flag on 64-bit,
 * so the text is cut at 16 * count - 1 characters: 303 with 19 flags (6.11-6.14),
 * 319 with 20 (6.15-7.0). Kernels from VERBOSE_WHOLE_SINCE print the whole line.
 * Measured on Debian kernels booted in QEMU: 6.12, 6.16, 6.17, 6.18, 6.19 and 7.0
 * cut the line; 7.1, 7.2 and 7.3 print it whole.
 */
export const VERBOSE_WHOLE_SINCE = '7.1.0';
const BYTES_PER_FLAG = 16;

export interface FormatOptions {
  /** Kernel release to imitate (`uname -r`), e.g. `6.1.0-27-cloud-amd64`. Default: the newest mainline. */
  kernel?: string;
  /** The 6.11+ verbose line instead of the position string. */
  verbose?: boolean;
  /** Flag table; `auto` (default) picks a vendor from the release (`.el8` → rhel8), else mainline. */
  profile?: Profile;
}

/** How many position chars a kernel prints: one per bit it defines. */
export function positionWidth(table: ProfileTable, version: KernelVersion | null): number {
  return printedBits(table, version).length;
}

function mainlineBitsOf(table: ProfileTable, version: KernelVersion | null): number {
  if (table.mainlineWidth !== null) return table.mainlineWidth;
  let n = 0;
  // Bits were added in order, so the count is the first bit the release lacks.
  while (n < 32) {
    const f = table.byBit.get(n);
    if (!f || (version !== null && !atLeast(version, f.since))) break;
    n++;
  }
  return n;
}

/**
 * The bits a kernel prints, one per position char, in order; `-1` is a pad
 * position (RHEL prints every bit up to 29 or 31, padding unused ones).
 */
function printedBits(table: ProfileTable, version: KernelVersion | null): number[] {
  const mainline = mainlineBitsOf(table, version);
  const out: number[] = [];
  const vendorBit = (bit: number): boolean => {
    const f = table.byBit.get(bit);
    return f !== undefined && (version === null || atLeast(version, f.since));
  };
  if (table.width !== null) {
    for (let bit = 0; bit < table.width; bit++) out.push(bit < mainline || vendorBit(bit) ? bit : -1);
    return out;
  }
  for (let bit = 0; bit < mainline; bit++) out.push(bit);
  if (table.appendVendorBits) for (let bit = mainline; bit < 32; bit++) if (vendorBit(bit)) out.push(bit);
  return out;
}

/**
 * Formats a taint value exactly as the given kernel prints it in an oops header
 * (`Tainted: G        W  O       `) or, with `verbose`, in the 6.11+ line
 * (`Tainted: [W]=WARN, [O]=OOT_MODULE`). `Not tainted` only for 0: like the
 * kernel's print_tainted(), any other mask prints `Tainted: ` and the position
 * string, even when no bit of it is one this kernel defines (kernels before 5.8
 * accepted any bit from a sysctl write). Bits the kernel does not define are not
 * shown. Pure: works on every platform.
 *
 * @example
 * formatTaint(4097, { kernel: '6.1.0' })                   // 'Tainted: P           O      '
 * formatTaint(4097, { kernel: '6.12.0', verbose: true })   // 'Tainted: [P]=PROPRIETARY_MODULE, [O]=OOT_MODULE'
 */
export function formatTaint(value: number | bigint | string, opts: FormatOptions = {}): string {
  const v = toTaintValue(value);
  let version: KernelVersion | null = null;
  if (opts.kernel !== undefined) {
    if (typeof opts.kernel !== 'string') throw invalidArg('kernel must be a release string such as "6.12.0"');
    version = parseKernelVersion(opts.kernel);
    if (!version) throw invalidArg(`not a kernel release: ${JSON.stringify(opts.kernel)}`);
  }
  const profile = resolveProfile(opts.profile, () => profileForRelease(opts.kernel));
  const table = profileTable(profile);
  if (v === 0) return 'Not tainted';
  const positions = printedBits(table, version);
  let mask = 0;
  for (const bit of positions) if (bit >= 0) mask |= 1 << bit;
  const shown = (v & mask) >>> 0;

  if (opts.verbose) {
    if (version !== null && !atLeast(version, VERBOSE_SINCE)) {
      throw new KernelTaintError(
        'ERR_KERNEL_TAINT_NO_VERBOSE',
        `kernel ${opts.kernel} predates the verbose taint line (added in 6.11)`,
      );
    }
    const parts: string[] = [];
    for (let bit = 0; bit < 32; bit++) {
      if (((shown >>> bit) & 1) === 1) {
        const f = table.byBit.get(bit);
        if (f) parts.push(`[${f.letter}]=${f.name}`);
      }
    }
    const line = `Tainted: ${parts.join(', ')}`;
    if (version !== null && !atLeast(version, VERBOSE_WHOLE_SINCE)) {
      return line.slice(0, mainlineBitsOf(table, version) * BYTES_PER_FLAG - 1);
    }
    return line;
  }

  let s = 'Tainted: ';
  for (const bit of positions) {
    const f = bit < 0 ? undefined : table.byBit.get(bit);
    if (!f) s += table.pad ?? ' ';
    else s += ((shown >>> bit) & 1) === 1 ? f.letter : f.clear;
  }
  return s;
}
