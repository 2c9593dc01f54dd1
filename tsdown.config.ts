import { join } from 'node:path';
import { defineConfig, type UserConfig } from 'tsdown';

type Plugin = Extract<NonNullable<UserConfig['plugins']>, { name: string }>;

// The core (`.`) loads these at import, in one chunk; everything else of lib/
// loads on demand. Bytes loaded by the core are checked by
// test/unit/exports.test.ts and npm run bench:startup (≤ 40 kB).
const CORE = [
  'attribution',
  'binding',
  'boot-id',
  'decode',
  'defaults',
  'errors',
  'flags',
  'format',
  'kernel-version',
  'lazy',
  'parts-lazy',
  'profiles',
  'read',
  'verdict',
];

// The parts the core loads on first use (lib/parts-lazy.ts requires
// dist/<name>.cjs): entries of their own, so that each is a file of its own.
const PARTS = ['explain', 'kmsg-cause', 'modules', 'parse', 'watch'];

// lib/parts.ts imports the parts eagerly (for vitest and test bundles); the
// build uses lib/parts-lazy.ts instead.
const lazyParts: Plugin = {
  name: 'kernel-taint:lazy-parts',
  resolveId: {
    filter: { id: /^\.\/parts\.js$/ },
    handler(_source, importer) {
      return importer?.endsWith(join('lib', 'index.ts')) ? join(import.meta.dirname, 'lib', 'parts-lazy.ts') : null;
    },
  },
};

export default defineConfig({
  // `.` is the core; each integration is its own subpath entry (package.json
  // "exports"); the CLI is loaded by bin/kernel-taint.cjs.
  entry: {
    index: 'lib/index.ts',
    health: 'lib/health.ts',
    metrics: 'lib/metrics.ts',
    journal: 'lib/journal.ts',
    serve: 'lib/serve.ts',
    panel: 'lib/panel.ts',
    cli: 'lib/cli/index.ts',
    ...Object.fromEntries(PARTS.map((p) => [p, `lib/${p}.ts`])),
  },
  // CommonJS only: scripts/build-ts.mjs writes each public entry's .mjs as a
  // thin ESM wrapper over its .cjs, so `import` and `require` share one
  // implementation (one KernelTaintError class), and the lazily required parts
  // work for both.
  format: ['cjs'],
  dts: true,
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: false,
  plugins: [lazyParts],
  // Compressed without renaming: names stay readable in stack traces and
  // importing the core stays small.
  minify: { compress: true, mangle: false, codegen: { removeWhitespace: true } },
  outputOptions: {
    codeSplitting: {
      groups: [{ name: 'core', test: new RegExp(`[\\\\/]lib[\\\\/](${CORE.join('|')})\\.ts$`) }],
    },
  },
  // lib/flags.ts reads its table from the file beside it.
  copy: ['lib/flags.json'],
  shims: true,
});
