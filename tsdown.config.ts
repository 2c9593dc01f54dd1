import { defineConfig } from 'tsdown';

export default defineConfig({
  entry: { index: 'lib/index.ts', cli: 'lib/cli.ts', panel: 'lib/integrations/panel/index.ts' },
  format: ['esm', 'cjs'],
  dts: true,
  platform: 'node',
  target: 'node20',
  clean: true,
  sourcemap: false,
  shims: true,
});
