import { defineConfig } from 'vitest/config';

// Standalone config for the real-kernel tests (the root vitest.config.ts also has them as the
// `kernel` project): npx vitest run -c test/kernel/vitest.config.ts
export default defineConfig({
  root: new URL('../..', import.meta.url).pathname,
  test: {
    name: 'kernel',
    include: ['test/kernel/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 900_000,
    hookTimeout: 900_000,
  },
});
