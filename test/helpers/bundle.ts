// Child processes and Workers cannot import TypeScript: bundle lib/index.ts to
// test-artifacts/ (git-ignored) once per test process. The bundle sits one
// directory below the package root, like dist/, so lib/binding.ts finds
// package.json and build/Release the same way the published package does.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'rolldown';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');

let bundled: Promise<string> | undefined;

/** Absolute path of an ESM bundle of the library (built on first use). */
export function libraryBundle(): Promise<string> {
  bundled ??= (async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    const file = join(ARTIFACTS, `kernel-taint-${process.pid}.mjs`);
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
  const file = join(ARTIFACTS, `${name}-${process.pid}.mjs`);
  writeFileSync(file, `import * as kt from ${JSON.stringify(lib)};\n${body}\n`);
  return file;
}

/** Removes what this process wrote to test-artifacts/ (scripts, and the bundle). */
export async function cleanupArtifacts(files: string[]): Promise<void> {
  for (const f of files) rmSync(f, { force: true });
  if (bundled) {
    const lib = await bundled.catch(() => undefined);
    bundled = undefined;
    if (lib) rmSync(lib, { force: true });
  }
}
