import { defineConfig } from 'vitest/config';

// Native addons crash under worker threads pools; keep vitest's forks pool
// and create Workers explicitly in the tests that need them.
export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/lifecycle/**/*.test.ts', 'test/integrations/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        extends: true,
        test: { name: 'kernel', include: ['test/kernel/**/*.test.ts'], testTimeout: 900_000, hookTimeout: 900_000 },
      },
      {
        // Real Prometheus, Alertmanager and promtool; node-problem-detector's plugin contract; manifests.
        extends: true,
        test: { name: 'fleet', include: ['test/fleet/**/*.test.ts'], testTimeout: 90_000, hookTimeout: 90_000 },
      },
      {
        // npm pack + install into a fresh project, prebuilds under qemu: minutes, not seconds.
        extends: true,
        test: {
          name: 'packaging',
          include: ['test/packaging/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
