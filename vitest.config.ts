import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

// One project per test directory. `npm test` runs the fast ones (unit,
// native, lifecycle, integrations); soak, faults, fleet, packaging and kernel
// have their own npm scripts, all run by .ci/run. Native addons crash under
// worker thread pools: keep vitest's forks pool and create Workers explicitly
// in the tests that need them.
// KERNEL_TAINT_ATTRIBUTION=off: a watcher on the real sysctl never arms the
// kernel perf sources (a hardware watchpoint on tainted_mask, tracepoints) on
// the machine running the tests; they are proven in QEMU guests (test/kernel).
//
// `npm test` speed (issue #15: ≤ 30 s on 2 cores, see BENCHMARKS.md "npm test"):
// - fast projects run two files at once even on 2 cores (vitest's default is
//   cores - 1 = 1 there): most of their time is spent waiting on child
//   processes, timers and inotify, not on the CPU.
// - `unit` runs its files in one reused fork (isolate: false): a fresh fork
//   per file cost more CPU than the tests. test/helpers/fresh-modules.ts
//   gives each file a fresh module registry, so vi.mock() still applies.
//   The other projects keep one fork per file: they count threads, fds and
//   children of their own process.
const fast = { maxWorkers: Math.max(2, availableParallelism() - 1) };
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
      project('unit', { ...fast, isolate: false, setupFiles: ['test/helpers/fresh-modules.ts'] }),
      // Real triggers (inotify, poll...) on temp files.
      project('native', fast),
      // Threads, workers, child processes, closing in awkward places.
      project('lifecycle', fast),
      // CLI, health, metrics, journal, serve, panel (the panel in a real browser is in fleet).
      project('integrations', fast),
      // Long leak and crash-safety runs.
      project('soak', { testTimeout: 300_000 }),
      // Fault injection (#12).
      project('faults', { testTimeout: 120_000 }),
      // Real external programs: Prometheus, promtool, NPD (#14), the panel in Chromium.
      project('fleet', { testTimeout: 300_000, hookTimeout: 300_000 }),
      // npm pack + install into a fresh project, prebuilds under qemu: minutes, not seconds.
      project('packaging', { testTimeout: 300_000, hookTimeout: 600_000 }),
      // Real kernels under QEMU.
      project('kernel', { testTimeout: 900_000, hookTimeout: 900_000 }),
    ],
  },
});
