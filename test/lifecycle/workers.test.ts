// Watchers inside worker_threads: each Worker environment has its own watch
// thread, stopped and joined by the environment's cleanup hook when the Worker
// exits with watchers still open, or is terminated while changes are in flight.
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isSupported } from '../../lib/binding.js';
import { cleanupArtifacts, script } from '../helpers/bundle.js';
import { waitFor } from '../helpers/events.js';
import { threadsNamed, WATCH_THREAD, writeValue } from '../helpers/fs.js';
import { tempDir } from '../helpers/tmp.js';

const WORKER = `
import { parentPort, workerData } from 'node:worker_threads';
const { path, mode } = workerData;
const w = kt.watchTaint({ path, interval: 20, ignoreInitial: mode !== 'throw' });
w.on('error', (e) => parentPort.postMessage({ type: 'error', code: e.code }));
w.on('change', (c) => {
  if (mode === 'throw') throw new Error('boom from a worker listener');
  parentPort.postMessage({ type: 'change', value: c.current.value, trigger: c.trigger });
});
w.on('ready', (triggers) => {
  parentPort.postMessage({ type: 'ready', triggers });
  if (mode === 'exit-open') process.exit(0); // teardown with the watcher open and persistent
  if (mode === 'unref') w.unref(); // the Worker's loop ends by itself
  if (mode === 'close') void w.close();
});
// 'stream': stays until terminated.
`;

interface Result {
  code: number;
  messages: Array<{ type: string; [k: string]: unknown }>;
  error: Error | null;
}

let workerFile: string;
let tmp: string;

beforeAll(async () => {
  workerFile = await script('worker', WORKER);
  tmp = tempDir('kt-workers-', 'file');
});
afterAll(async () => {
  await cleanupArtifacts([workerFile]);
});

function run(path: string, mode: string): { worker: Worker; done: Promise<Result> } {
  const worker = new Worker(workerFile, { workerData: { path, mode } });
  const messages: Result['messages'] = [];
  let error: Error | null = null;
  worker.on('message', (m) => messages.push(m));
  worker.on('error', (e) => {
    error = e;
  });
  const done = new Promise<Result>((resolve) => worker.on('exit', (code) => resolve({ code, messages, error })));
  return { worker, done };
}

describe.skipIf(!isSupported())('watchers in Workers', () => {
  it('five Workers at once create watchers and exit (open, unref-ed, closed); the process survives', async () => {
    const base = threadsNamed(WATCH_THREAD);
    const modes = ['exit-open', 'unref', 'close', 'exit-open', 'unref'];
    const runs = modes.map((mode, i) => {
      const path = join(tmp, `w${i}`);
      writeValue(path, 0);
      return run(path, mode);
    });
    const results = await Promise.all(runs.map((r) => r.done));
    for (const r of results) {
      expect(r.error).toBeNull();
      expect(r.code).toBe(0);
      expect(r.messages[0]).toMatchObject({ type: 'ready' });
    }
    await waitFor(() => threadsNamed(WATCH_THREAD) === base, 5000, 'every worker watch thread to be joined');
  });

  it('worker.terminate() while changes are in flight', async () => {
    const base = threadsNamed(WATCH_THREAD);
    const path = join(tmp, 'stream');
    writeValue(path, 0);
    let value = 0;
    for (let round = 0; round < 8; round++) {
      const { worker, done } = run(path, 'stream');
      let changes = 0;
      worker.on('message', (m) => {
        if (m.type === 'change') changes++;
      });
      const writer = setInterval(() => writeValue(path, ++value % 1024), 0);
      // Terminate at a different point each round: during setup, then mid-stream.
      if (round > 0) await waitFor(() => changes >= round * 3, 10_000, 'changes in the worker');
      await worker.terminate();
      clearInterval(writer);
      const r = await done;
      expect(r.error).toBeNull();
      // 1 when terminated while running; a Worker stopped before it started exits 0.
      if (round > 0) expect(r.code).toBe(1);
    }
    await waitFor(() => threadsNamed(WATCH_THREAD) === base, 5000, 'every worker watch thread to be joined');
  }, 60_000);

  it("a listener that throws in a Worker becomes the Worker's 'error'", async () => {
    const path = join(tmp, 'throw');
    writeValue(path, 0);
    const r = await run(path, 'throw').done;
    expect(r.error?.message).toBe('boom from a worker listener');
    expect(r.code).toBe(1);
  });
});
