// Child processes and Workers cannot import TypeScript: bundle lib/index.ts
// once per test process into a temp package laid out like the published one
// (package.json, dist/ with the bundle and flags.json, build/Release/ with the
// addon), so lib/binding.ts finds the addon the same way. The package sits in
// a world-readable temp dir: a child that drops to an unprivileged uid must be
// able to load it even when the checkout is in a 0700 directory.
import { copyFileSync, existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';
import { publicTempDir } from './tmp.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

let pkg: string | undefined;
let bundled: Promise<string> | undefined;

function publicDir(path: string): string {
  mkdirSync(path, { recursive: true, mode: 0o755 });
  return path;
}

/** Absolute path of an ESM bundle of the library (built on first use), world-readable. */
export function libraryBundle(): Promise<string> {
  bundled ??= (async () => {
    pkg = publicTempDir('kernel-taint-bundle-', 'caller');
    const dist = publicDir(join(pkg, 'dist'));
    copyFileSync(join(ROOT, 'package.json'), join(pkg, 'package.json'));
    copyFileSync(join(ROOT, 'lib/flags.json'), join(dist, 'flags.json'));
    const addon = join(ROOT, 'build/Release/kernel_taint.node');
    if (existsSync(addon)) copyFileSync(addon, join(publicDir(join(pkg, 'build/Release')), 'kernel_taint.node'));
    const file = join(dist, 'kernel-taint.mjs');
    await build({
      input: join(ROOT, 'lib', 'index.ts'),
      platform: 'node',
      external: [/^node:/],
      logLevel: 'warn',
      output: { file, format: 'esm' },
    });
    return file;
  })();
  return bundled;
}

/** Writes a script next to the bundle that imports it as `kt`; returns its path. */
export async function script(name: string, body: string): Promise<string> {
  const lib = await libraryBundle();
  const file = join(dirname(lib), `${name}.mjs`);
  writeFileSync(file, `import * as kt from ${JSON.stringify(lib)};\n${body}\n`);
  return file;
}

/** Removes what this process wrote (scripts, and the bundle's package). */
export async function cleanupArtifacts(files: string[]): Promise<void> {
  for (const f of files) rmSync(f, { force: true });
  if (bundled) {
    await bundled.catch(() => undefined);
    bundled = undefined;
    if (pkg) rmSync(pkg, { recursive: true, force: true });
    pkg = undefined;
  }
}
