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
  shims: true,
});
