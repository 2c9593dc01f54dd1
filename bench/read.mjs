// `npm run bench`: the reader against its baselines, measured in one run on
// this machine: a C pread loop (the floor), fs.readFileSync + parseInt, and
// fs.promises.readFile. Prints ns/op, the ratios and the targets, and checks
// for RSS and descriptor growth over 1,000,000 reads.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const { readTaintValue, readTaint } = require('../dist/index.cjs');
// The addon itself, for its in-process C++ loop (_benchRead).
const addon = require('node-gyp-build')(join(here, '..'));

const PATH = process.env.KT_BENCH_PATH ?? '/proc/sys/kernel/tainted';
// Many short rounds rather than a few long ones: this VM shares its host, whose
// load drifts over seconds, and a drift that lands on one contender's long
// round skews its median. Short rounds in a shuffled order spread it evenly.
const N = Number(process.env.KT_BENCH_N ?? 200_000);
const ROUNDS = Number(process.env.KT_BENCH_ROUNDS ?? 25);

function cLoop() {
  const out = join(here, '.build');
  mkdirSync(out, { recursive: true });
  const bin = join(out, 'pread-loop');
  execFileSync('cc', ['-O2', '-o', bin, join(here, 'pread-loop.c')]);
  return () => Number(execFileSync(bin, [PATH, String(N)], { encoding: 'utf8' }).split(' ')[0]);
}

function timeSync(fn, n) {
  for (let i = 0; i < Math.min(n, 10_000); i++) fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

async function timeAsync(fn, n) {
  for (let i = 0; i < 1000; i++) await fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await fn();
  return Number(process.hrtime.bigint() - t0) / n;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fds = () => readdirSync('/proc/self/fd').length;

const c = cLoop();
const inProcess = addon.openReader(PATH);
const rows = {
  'C pread loop (baseline)': [],
  'C++ pread loop inside this Node process': [],
  'readTaintValue()': [],
  'readTaint()': [],
  'fs.readFileSync + parseInt': [],
};
const contenders = [
  ['C pread loop (baseline)', () => c()],
  ['C++ pread loop inside this Node process', () => addon._benchRead(inProcess, N)],
  ['readTaintValue()', () => timeSync(() => readTaintValue(), N)],
  ['readTaint()', () => timeSync(() => readTaint({ profile: 'mainline' }), N / 5)],
  ['fs.readFileSync + parseInt', () => timeSync(() => Number.parseInt(readFileSync(PATH, 'utf8'), 10), N / 20)],
];
// Interleave rounds, each in a fresh random order, so that machine noise hits
// every contender alike.
for (let r = 0; r < ROUNDS; r++) {
  const order = [...contenders];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  for (const [name, run] of order) rows[name].push(run());
}
const asyncNs = await timeAsync(async () => Number.parseInt(await readFile(PATH, 'utf8'), 10), 20_000);

const res = Object.fromEntries(Object.entries(rows).map(([k, v]) => [k, median(v)]));
res['fs.promises.readFile + parseInt'] = asyncNs;
const base = res['C pread loop (baseline)'];
const rtv = res['readTaintValue()'];

// Growth check: 1,000,000 reads must not grow RSS or the descriptor table.
globalThis.gc?.();
const rss0 = process.memoryUsage().rss;
const fd0 = fds();
for (let i = 0; i < 1_000_000; i++) readTaintValue();
globalThis.gc?.();
const rssGrowth = (process.memoryUsage().rss - rss0) / 1024;
const fdGrowth = fds() - fd0;

console.log(`kernel-taint read benchmark: ${PATH}, ${N} ops x ${ROUNDS} rounds (median), node ${process.version}`);
console.log('');
console.log('| reader | ns/op | x C pread | readFileSync / this |');
console.log('|---|---:|---:|---:|');
for (const [k, v] of Object.entries(res)) {
  console.log(
    `| ${k} | ${v.toFixed(0)} | ${(v / base).toFixed(2)} | ${(res['fs.readFileSync + parseInt'] / v).toFixed(1)} |`,
  );
}
console.log('');
const ratioC = rtv / base;
const ratioFs = res['fs.readFileSync + parseInt'] / rtv;
const ratioIn = rtv / res['C++ pread loop inside this Node process'];
const ok1 = ratioC <= 1.25;
const ok2 = ratioFs >= 8;
const ok3 = fdGrowth === 0 && rssGrowth < 4096;
console.log(`target readTaintValue() <= 1.25x C pread: ${ratioC.toFixed(2)}x ${ok1 ? 'PASS' : 'FAIL'}`);
console.log(`  (vs the same pread in a C++ loop inside this Node process: ${ratioIn.toFixed(2)}x)`);
console.log(`target readTaintValue() >= 8x faster than readFileSync: ${ratioFs.toFixed(1)}x ${ok2 ? 'PASS' : 'FAIL'}`);
console.log(
  `  (the C pread loop itself is ${(res['fs.readFileSync + parseInt'] / base).toFixed(1)}x faster than readFileSync on this kernel)`,
);
console.log(`1,000,000 reads: RSS growth ${rssGrowth.toFixed(0)} KiB, fd growth ${fdGrowth} ${ok3 ? 'PASS' : 'FAIL'}`);
process.exitCode = ok1 && ok2 && ok3 ? 0 : 1;
