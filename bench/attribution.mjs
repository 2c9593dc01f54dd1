// `npm run bench:attribution`: what the 'watchpoint' source costs on a WARN
// storm, measured on this host without touching the kernel's taint: a child
// process stores to an 8-byte variable that the source watches exactly as it
// watches tainted_mask (ring, epoll, drain, mask re-read, coalescing). Where
// hardware breakpoints do not fire (Firecracker guests), a return probe on the
// child's store function traps each store instead; the path after
// perf_event_open is the same.
//   1. storm: K stores of an unchanged value (1,000 WARNs on a set W) ->
//      traps seen, drains, watch-thread ns per trap, JS calls (target: 0; <= 1);
//   2. baseline in the same run: K writes of the same value to a watched file
//      with the inotify trigger (how a storm reached the watcher before):
//      wakeups, reads and watch-thread ns per event.
//   3. one real change through the source: store -> 'change' latency, p50/p99.
// Environment: KT_BENCH_STORM (default 1000), KT_BENCH_N (changes, default 200).
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);
const { watchTaint } = require('../dist/index.cjs');
const addon = require('node-gyp-build')(root);

const STORM = Number(process.env.KT_BENCH_STORM ?? 1000);
const N = Number(process.env.KT_BENCH_N ?? 200);
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-attr-'));
const exe = join(dir, 'kt-wp-child');
execFileSync('cc', ['-O1', '-o', exe, join(root, 'test/native/fixtures/wp-child.c')]);
const file = join(dir, 'tainted');
writeFileSync(file, '0\n');

const child = spawn(exe, [file]);
const lines = [];
const waiters = [];
createInterface({ input: child.stdout }).on('line', (l) => (waiters.length ? waiters.shift()(l) : lines.push(l)));
const line = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r)));
const send = async (cmd) => {
  child.stdin.write(`${cmd}\n`);
  if ((await line()) !== 'ok') throw new Error(`child: ${cmd} failed`);
};
const [address, offset, bp] = (await line()).split(' ');
const mode = bp === '1' ? 'breakpoint' : 'uretprobe';
const stats = () => addon.watchStats();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const w = watchTaint({
  path: file,
  triggers: ['watchpoint'],
  interval: 0,
  ignoreInitial: true,
  _watchpointTarget: { pid: child.pid, address, ...(mode === 'uretprobe' ? { probe: { path: exe, offset } } : {}) },
});
await new Promise((r) => w.once('ready', r));
let changes = 0;
w.on('change', () => changes++);

// 1. the storm
await send('set 512'); // W set
await sleep(100);
changes = 0;
let s0 = stats();
await send(`storm ${STORM}`);
await sleep(300);
let s1 = stats();
const traps = s1.watchpointSamples - s0.watchpointSamples;
const drains = s1.watchpointDrains - s0.watchpointDrains;
const drainNs = s1.watchpointDrainNs - s0.watchpointDrainNs;
const storm = {
  mode,
  stores: STORM,
  traps,
  drains,
  coalesced: s1.watchpointCoalesced - s0.watchpointCoalesced,
  wakeups: s1.wakeups - s0.wakeups,
  jsCalls: s1.jsCalls - s0.jsCalls,
  changes,
  nsPerTrap: Math.round(drainNs / Math.max(1, traps)),
  nsPerDrain: Math.round(drainNs / Math.max(1, drains)),
};

// 3. latency of a real change through the source
const lat = [];
for (let i = 0; i < N; i++) {
  const v = i % 2 ? 512 : 576;
  const got = new Promise((r) => w.once('change', r));
  const t0 = process.hrtime.bigint();
  await send(`set ${v}`);
  const tReturn = process.hrtime.bigint();
  await got;
  lat.push([Number(process.hrtime.bigint() - t0) / 1e6, Number(process.hrtime.bigint() - tReturn) / 1e6]);
}
await w.close();

// 2. baseline: the same storm as file writes seen by inotify
const bfile = join(dir, 'tainted-inotify');
const fd = openSync(bfile, 'w+');
writeSync(fd, '512\n', 0);
const b = watchTaint({ path: bfile, triggers: ['inotify'], interval: 0, ignoreInitial: true });
await new Promise((r) => b.once('ready', r));
await sleep(50);
s0 = stats();
const tb = process.hrtime.bigint();
for (let i = 0; i < STORM; i++) writeSync(fd, '512\n', 0);
await sleep(300);
s1 = stats();
const baseline = {
  writes: STORM,
  wakeups: s1.wakeups - s0.wakeups,
  reads: s1.reads - s0.reads,
  jsCalls: s1.jsCalls - s0.jsCalls,
  writerMs: Number(process.hrtime.bigint() - tb) / 1e6,
};
await b.close();
closeSync(fd);
child.kill();
rmSync(dir, { recursive: true, force: true });

const pct = (a, p) => a.slice().sort((x, y) => x - y)[Math.min(a.length - 1, Math.floor((a.length * p) / 100))];
const fromStart = lat.map((x) => x[0]);
console.log(
  JSON.stringify({ storm, baseline, latency: { n: N, p50: pct(fromStart, 50), p99: pct(fromStart, 99) } }, null, 1),
);
console.log(
  `storm (${mode}): ${storm.traps} traps for ${STORM} stores, ${storm.drains} drains, ${storm.jsCalls} JS calls, ` +
    `${storm.nsPerTrap} ns/trap on the watch thread; baseline inotify: ${baseline.wakeups} wakeups, ` +
    `${baseline.reads} reads, ${baseline.jsCalls} JS calls for ${STORM} writes (` +
    `${(baseline.reads / Math.max(1, storm.drains)).toFixed(2)}x the reads of the watchpoint's drains); ` +
    `change latency p50 ${pct(fromStart, 50).toFixed(3)} ms p99 ${pct(fromStart, 99).toFixed(3)} ms`,
);
