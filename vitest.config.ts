import { defineConfig } from 'vitest/config';

// One project per test directory. `npm test` runs the fast ones (unit,
// native, lifecycle, integrations); soak, faults, fleet, packaging and kernel
// have their own npm scripts, all run by .ci/run. Native addons crash under
// worker thread pools: keep vitest's forks pool and create Workers explicitly
// in the tests that need them.
// KERNEL_TAINT_ATTRIBUTION=off: a watcher on the real sysctl never arms the
// kernel perf sources (a hardware watchpoint on tainted_mask, tracepoints) on
// the machine running the tests; they are proven in QEMU guests (test/kernel).
const project = (name: string, extra: Record<string, unknown> = {}) => ({
  extends: true as const,
  test: {
    name,
    include: [`test/${name}/**/*.test.ts`],
    testTimeout: 20_000,
    env: { KERNEL_TAINT_ATTRIBUTION: 'off' },
    ...extra,
  },
});

export default defineConfig({
  test: {
    pool: 'forks',
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    projects: [
      // Pure functions and the fake binding.
      project('unit'),
      // Real triggers (inotify, poll...) on temp files.
      project('native'),
      // Threads, workers, child processes, closing in awkward places.
      project('lifecycle'),
      // CLI, health, metrics, journal, serve, panel.
      project('integrations'),
      // Long leak and crash-safety runs.
      project('soak', { testTimeout: 300_000 }),
      // Fault injection (#12).
      project('faults', { testTimeout: 120_000 }),
      // Real Prometheus, promtool, NPD (#14).
      project('fleet', { testTimeout: 300_000, hookTimeout: 300_000 }),
      // npm pack + install into a fresh project, prebuilds under qemu: minutes, not seconds.
      project('packaging', { testTimeout: 300_000, hookTimeout: 600_000 }),
      // Real kernels under QEMU.
      project('kernel', { testTimeout: 900_000, hookTimeout: 900_000 }),
    ],
  },
});
