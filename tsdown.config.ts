import { defineConfig } from 'tsdown';

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
  },
  format: ['esm', 'cjs'],
  dts: true,
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: false,
  // Compressed without renaming: names stay readable in stack traces and
  // importing the core stays small (test/unit/exports.test.ts).
  minify: { compress: true, mangle: false, codegen: { removeWhitespace: true } },
  // The core (lib/*.ts but the subpath entries; not the lib/*.d.ts modules of
  // the type build) in one chunk: importing it loads two files, not one per module.
  outputOptions: {
    codeSplitting: {
      groups: [{ name: 'core', test: /[\\/]lib[\\/](?!(health|metrics|journal|serve|panel)\.)[^\\/.]+\.(ts|json)$/ }],
    },
  },
  // lib/flags.ts reads its table from the file beside it.
  copy: ['lib/flags.json'],
  shims: true,
});
