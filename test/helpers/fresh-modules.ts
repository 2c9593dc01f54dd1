// Setup file of the `unit` project, which runs its files one after another in
// one reused fork (isolate: false, see vitest.config.ts): every file starts
// from a fresh module registry, so its vi.mock() calls apply to the library
// modules it imports even when an earlier file loaded them unmocked.
// Transforms stay cached, which is what the reused fork saves.
import { vi } from 'vitest';

vi.resetModules();
