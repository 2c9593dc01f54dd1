// Setup file of the `unit` project, which runs its files one after another in
// one reused fork (isolate: false, see vitest.config.ts): every file starts
// from a fresh module registry, so its vi.mock() calls apply to the library
// modules it imports even when an earlier file loaded them unmocked, and from
// real timers, unstubbed env and globals and restored spies, whatever the
// file before it left behind. Transforms stay cached, which is what the
// reused fork saves.
import { vi } from 'vitest';

vi.resetModules();
vi.useRealTimers();
vi.unstubAllEnvs();
vi.unstubAllGlobals();
vi.restoreAllMocks();
