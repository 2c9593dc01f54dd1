// `npm run bench:change`: from the return of a synchronous write to the
// 'change' event, in a fresh process, change by change: what the real-kernel
// guests measure (test/kernel/guest/attrib.mjs, "Where a change's milliseconds
// go" in BENCHMARKS.md), on this host and without touching the kernel's taint.
// A child stores each value into an 8-byte variable that the 'watchpoint'
// source watches exactly as it watches tainted_mask (a return probe on its
// store function where hardware breakpoints do not fire), after writing it to
// the watched file. The JS thread drives the child through FIFOs and blocks
// until the child answers, as `spawnSync` blocks in the guest, so the watch
// thread has queued the change before JS can take it: what is left is the
// event-loop hop, the delivery into JS and the library's JS before the emit.
// Each change adds one new bit with its actor, like a real taint change.
//
// `KT_BENCH_EMULATE=1` runs the measuring process under `qemu-x86_64` (user-mode
// TCG, the emulator of the kernel guests): JS runs 10-30x slower there, as in a
// TCG guest, which shows the JS costs that are noise on real hardware. qemu-user
// has no perf_event_open, so there the change comes through the inotify trigger
// and carries no kernel report (no attribution stage).
// Environment: KT_BENCH_RUNS (fresh processes, default 5), KT_BENCH_EMULATE.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const BITS = [2, 3, 4, 5, 8, 10, 11, 15, 16, 17, 18];

if (process.argv[2] !== 'one') {
  const runs = Number(process.env.KT_BENCH_RUNS ?? 5);
  const emulate = process.env.KT_BENCH_EMULATE === '1';
  const dir = mkdtempSync(join(tmpdir(), 'kt-bench-change-'));
  const exe = join(dir, 'kt-wp-child');
  execFileSync('cc', ['-O1', '-o', exe, join(root, 'test/native/fixtures/wp-child.c')]);
  const node = process.execPath;
  const all = [];
  for (let i = 0; i < runs; i++) {
    const cmd = emulate ? 'qemu-x86_64' : node;
    // KT_BENCH_NODE_FLAGS: V8 flags for the measuring process (experiments: --always-sparkplug, ...).
    const flags = (process.env.KT_BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
    const script = [...flags, fileURLToPath(import.meta.url), 'one', dir];
    const args = emulate ? ['-cpu', 'max', node, ...script] : script;
    const env = { ...process.env, KERNEL_TAINT_TRACE_CHANGES: '1', ...(emulate ? { KT_BENCH_EMULATED: '1' } : {}) };
    const r = spawnSync(cmd, args, { encoding: 'utf8', env, timeout: 600_000 });
    if (r.status !== 0) {
      console.error(r.stderr || r.error);
      process.exit(1);
    }
    if (process.env.KT_DEBUG) console.error(r.stderr, r.stdout);
    all.push(JSON.parse(r.stdout.trim().split('\n').pop()));
  }
  rmSync(dir, { recursive: true, force: true });
  const med = (xs) => {
    const s = xs.filter((x) => x !== null).sort((a, b) => a - b);
    return s.length ? s[Math.floor((s.length - 1) / 2)] : null;
  };
  const f = (x) => (x === null ? '-' : x.toFixed(x < 1 ? 3 : 2));
  console.log(
    `${emulate ? 'under qemu-x86_64 (TCG)' : 'native'}, ${runs} fresh processes x ${BITS.length} changes, ms:`,
  );
  const keys = Object.keys(all[0].samples[0]).filter((k) => k !== 'bit');
  console.log(`| stage | first change (median of runs) | later changes (median of all) |`);
  console.log('|---|---:|---:|');
  for (const k of keys) {
    const first = med(all.map((r) => r.samples[0][k]));
    const later = med(all.flatMap((r) => r.samples.slice(1).map((s) => s[k])));
    console.log(`| ${k} | ${f(first)} | ${f(later)} |`);
  }
  console.log(`ready: median ${f(med(all.map((r) => r.readyMs)))} ms`);
  process.exit(0);
}

// ---- one measuring process ----------------------------------------------------------------------
const dir = process.argv[3];
const exe = join(dir, 'kt-wp-child');
const require = createRequire(import.meta.url);
const { watchTaint } = require('../dist/index.cjs');
const addon = require('node-gyp-build')(root);
const hr = () => process.hrtime.bigint();
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const file = join(dir, `tainted-${process.pid}`);
writeFileSync(file, '0\n');
const fin = join(dir, `in-${process.pid}`);
const fout = join(dir, `out-${process.pid}`);
execFileSync('mkfifo', [fin, fout]);
const child = spawn('/bin/sh', ['-c', `exec "$0" "$1" < "$2" > "$3"`, exe, file, fin, fout], { stdio: 'ignore' });
const toChild = openSync(fin, 'w');
const fromChild = openSync(fout, 'r');
const buf = Buffer.alloc(256);
const readLine = () => {
  let s = '';
  while (!s.endsWith('\n')) {
    const n = readSync(fromChild, buf, 0, buf.length, null);
    if (n === 0) throw new Error('child closed its output');
    s += buf.toString('utf8', 0, n);
  }
  return s.trim();
};
const [address, offset, bp] = readLine().split(' ');
const probe = bp === '1' ? {} : { probe: { path: exe, offset } };
const t0 = hr();
const emulated = process.env.KT_BENCH_EMULATED === '1';
const w = watchTaint({
  path: file,
  triggers: emulated ? ['inotify'] : ['watchpoint'],
  interval: 0,
  ignoreInitial: true,
  ...(emulated ? {} : { _watchpointTarget: { pid: child.pid, address, ...probe } }),
});
const seen = [];
w.on('change', (c) => seen.push({ ns: hr(), c }));
w.on('error', (e) => {
  console.error(e);
  process.exit(1);
});
const [armed, info] = await new Promise((r) => w.once('ready', (...a) => r(a)));
if (armed.length === 0) throw new Error(`nothing armed: ${info.unarmed.map((u) => u.message).join('; ')}`);
const readyMs = Number(hr() - t0) / 1e6;
const trace = () => globalThis[Symbol.for('kernel-taint.changeTrace')] ?? [];
const ms = (a, b) => (a && b ? Number(BigInt(b) - BigInt(a)) / 1e6 : null);
const samples = [];
let value = 0;
for (const bit of BITS) {
  value = (value | (1 << bit)) >>> 0;
  const before = seen.length;
  writeSync(toChild, `set ${value}\n`);
  if (readLine() !== 'ok') throw new Error('child did not answer ok');
  const ret = hr();
  while (seen.length === before) {
    if (Number(hr() - ret) > 10e9) throw new Error(`no 'change' 10 s after the write of ${value}`);
    await sleep(1);
  }
  const got = seen[before];
  if (!emulated && got.c.actor?.pid !== child.pid) {
    throw new Error(`change without the child as actor: ${JSON.stringify(got.c.actor)}`);
  }
  const lc = addon.watchStats().lastChange;
  const t = trace().find((e) => e.ns[0] > ret);
  const queued = BigInt(lc.queuedNs);
  samples.push({
    bit,
    queuedBeforeReturn: ms(queued, ret),
    returnToCall: ms(ret > queued ? ret : queued, lc.callNs),
    callToEntry: t ? ms(lc.callNs, t.entry) : null,
    entryToLibrary: t ? ms(t.entry, t.ns[0]) : null,
    attribution: t ? ms(t.ns[0], t.ns[1]) : null,
    evidenceSetup: t ? ms(t.ns[1], t.ns[2]) : null,
    changeObject: t ? ms(t.ns[2], t.ns[3]) : null,
    schedule: t ? ms(t.ns[3], t.ns[4]) : null,
    emitToListener: t ? ms(t.ns[4], got.ns) : null,
    returnToChange: ms(ret, got.ns),
  });
}
await w.close();
writeSync(toChild, 'exit\n');
closeSync(toChild);
closeSync(fromChild);
console.log(JSON.stringify({ readyMs, samples }));
