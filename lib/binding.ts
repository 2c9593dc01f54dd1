// The only file that loads the native addon. Loading never throws: when it
// fails (not Linux, no prebuild and no compiler, wrong libc...) the reason is
// kept and reported by every call that needs the addon.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { UnsupportedError } from './errors.js';

/** What a failed system call looks like when it comes back from the addon. */
export interface NativeSysError {
  errno: number;
  syscall: string;
  path: string;
  /** Content errors: the file was read but holds no taint value. */
  reason?: 'empty' | 'invalid' | 'range';
  content?: string;
}

/** The native surface (native/addon.cc). */
export interface NativeBinding {
  /** Opens a kept descriptor; returns a small integer handle. */
  openReader(path: string): number | NativeSysError;
  /** One pread + strict parse on a kept descriptor. */
  readValue(handle: number): number | NativeSysError;
  closeReader(handle: number): void;
  /** The native parser, for tests. */
  parseText(text: string): number | NativeSysError;
}

declare const __dirname: string | undefined;

function packageRoot(): string {
  // dist/index.{cjs,mjs} → package root; under vitest, lib/ → package root.
  const here = typeof __dirname === 'string' ? __dirname : dirname(new URL(import.meta.url).pathname);
  return join(here, '..');
}

let loaded: NativeBinding | null | undefined;
let loadError: Error | undefined;

function load(): NativeBinding | null {
  if (loaded !== undefined) return loaded;
  if (process.platform !== 'linux') {
    loadError = new UnsupportedError(
      `kernel taint can only be read on Linux (this is ${process.platform}); decodeTaint, formatTaint and parseTaint work everywhere`,
    );
    loaded = null;
    return loaded;
  }
  try {
    const req = createRequire(join(packageRoot(), 'package.json'));
    const nodeGypBuild = req('node-gyp-build') as (dir: string) => unknown;
    const b = nodeGypBuild(packageRoot()) as Partial<NativeBinding>;
    if (typeof b.readValue !== 'function')
      throw new Error('the loaded binary has no reader (built for another platform?)');
    loaded = b as NativeBinding;
  } catch (cause) {
    loadError = new UnsupportedError(
      `the kernel-taint native addon could not be loaded: ${(cause as Error)?.message ?? cause}. Reinstall the package (npm rebuild kernel-taint) or see the README's troubleshooting section.`,
      { cause },
    );
    loaded = null;
  }
  return loaded;
}

/** Whether reading and watching work here (Linux with a loadable native addon). */
export function isSupported(): boolean {
  return load() !== null;
}

/** The addon, or throws the `ERR_KERNEL_TAINT_UNSUPPORTED` error that says why it is missing. */
export function native(): NativeBinding {
  const b = load();
  if (b === null) throw loadError ?? new UnsupportedError('kernel-taint is not supported here');
  return b;
}

/** The reason reading is unsupported, or `undefined` when it is supported. */
export function unsupportedReason(): Error | undefined {
  load();
  return loadError;
}
