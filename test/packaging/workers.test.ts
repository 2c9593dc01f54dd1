// Context-awareness of the prebuild (the binary Electron and Workers get): in a
// child process with PREBUILDS_ONLY=1, rounds of 8 worker_threads load the
// addon at once, read taint thousands of times (half also run a watcher),
// and half of them are terminated mid-work (some with a watcher running, some
// finishing with an unref'd watcher left open). Every Worker must end (exit code 0
// or 1 for terminate()), the main thread must still read afterwards, and the
// process must exit 0 by itself, with no crash and no thread left behind.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { prebuildPath, ROOT, run } from './helpers.js';

const SCRIPT = `
const { Worker } = require('node:worker_threads');
const CJS = process.env.KT_CJS;
const FILE = process.env.KT_FILE;
const ROUNDS = 4, WORKERS = 8, READS = 20000;

const body = ${'`'}
  const { parentPort, workerData } = require('node:worker_threads');
  const k = require(workerData.cjs);
  let watcher;
  if (workerData.watch) watcher = k.watchTaint({ path: workerData.file, interval: 20 });
  parentPort.postMessage({ started: true });
  let sum = 0;
  for (let i = 0; i < workerData.reads; i++) {
    sum += k.readTaintValue({ path: workerData.file });
    if (i % 1000 === 0) sum += k.readTaint().value;
  }
  parentPort.postMessage({ done: true, sum });
  // An unref'd watcher left open must not keep the Worker alive; its thread goes with the Worker.
  if (watcher && workerData.leaveWatcherOpen) watcher.unref();
  else if (watcher) watcher.close();
${'`'};

async function round(r) {
  const exits = await Promise.all(Array.from({ length: WORKERS }, (_, i) => new Promise((resolve, reject) => {
    const terminate = i % 2 === 0;
    const w = new Worker(body, {
      eval: true,
      workerData: { cjs: CJS, file: FILE, reads: terminate ? 10_000_000 : READS, watch: i % 4 < 2, leaveWatcherOpen: i % 4 === 1 },
    });
    let started = false, done = false;
    w.on('message', (m) => {
      if (m.started) {
        started = true;
        // Terminate while it reads (and, for some, while its watcher thread runs).
        if (terminate) setTimeout(() => w.terminate(), 5 + ((i * 37 + r * 11) % 60));
      }
      if (m.done) done = true;
    });
    w.on('error', reject);
    w.on('exit', (code) => resolve({ i, code, started, done, terminated: terminate }));
  })));
  return exits;
}

(async () => {
  const k = require(CJS);
  const results = [];
  for (let r = 0; r < ROUNDS; r++) results.push(...(await round(r)));
  const loaded = require(process.env.KT_NGB).path(process.env.KT_ROOT);
  console.log(JSON.stringify({ loaded, results, after: k.readTaintValue({ path: FILE }) }));
})().catch((e) => { console.error(e); process.exitCode = 3; });
`;

describe('context-aware prebuild', () => {
  it('8 Workers at a time load, read, watch and are terminated mid-work; the process exits 0 by itself', () => {
    const file = join(tempDir(), 'tainted');
    writeFileSync(file, '512\n');
    // Three processes: a crash at Worker exit is a race, so give it more than one chance to show.
    for (let attempt = 0; attempt < 3; attempt++) check(file);
  }, 180_000);
});

function check(file: string) {
  const r = run(process.execPath, ['-e', SCRIPT], {
    timeout: 120_000,
    env: {
      ...process.env,
      PREBUILDS_ONLY: '1',
      KT_CJS: join(ROOT, 'dist/index.cjs'),
      KT_NGB: join(ROOT, 'node_modules/node-gyp-build'),
      KT_ROOT: ROOT,
      KT_FILE: file,
    },
  });
  expect(r.stderr).toBe('');
  expect(r.signal).toBeNull();
  expect(r.status).toBe(0);
  const out = JSON.parse(r.stdout);
  expect(out.loaded).toBe(prebuildPath('x64', 'glibc'));
  expect(out.after).toBe(512);
  expect(out.results).toHaveLength(32);
  for (const w of out.results) {
    // terminate() ends a Worker with exit code 1, in the middle of its 10 million reads.
    if (w.terminated) expect(w).toMatchObject({ code: 1, started: true, done: false });
    else expect(w).toMatchObject({ code: 0, started: true, done: true });
  }
}
