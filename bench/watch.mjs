// `npm run bench:watch`: the watcher's latency and idle cost, from dist/.
//   1. inotify: write to a watched temp file -> 'change' in JS, p50/p99 over
//      >= 1,000 writes (target p99 <= 1 ms);
//   2. poll only (inotify off): latency against the interval (target <= interval + 2 ms);
//   3. idle: a default watcher on the real sysctl, no changes, for 10 s: CPU of
//      the JS thread and of the watch thread, and the native wakeup counters
//      (target: < 1 ms JS CPU, wakeups only for the poll timer).
// Environment: KT_BENCH_N (writes, default 2000), KT_BENCH_IDLE_MS (default 10000).
import { execFile, execFileSync } from 'node:child_process';
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..');
const require = createRequire(import.meta.url);
const { watchTaint } = require('../dist/index.cjs');
// The same addon instance dist/ loaded (same file, same environment): its
// watchStats() counts the watch thread's wakeups and reads.
const addon = require('node-gyp-build')(root);

const N = Number(process.env.KT_BENCH_N ?? 2000);
const IDLE_MS = Number(process.env.KT_BENCH_IDLE_MS ?? 10_000);
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-'));
const file = join(dir, 'tainted');

// In place, fixed width, one pwrite: a watcher never sees a half-written file.
const fd = openSync(file, 'w+');
const put = (v) => writeSync(fd, `${String(v).padStart(10, '0')}\n`, 0);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => x.toFixed(3);

/** Latency of n writes: each waits for its 'change' before the next write. */
async function latency(w, n, gapMs = () => 0) {
  const out = [];
  let resolve;
  w.on('change', (c) => {
    if (c.trigger !== 'initial') resolve?.(c);
  });
  // Alternate W and W|D: every write is a change, and no module flag is added
  // (module attribution would add a /sys/module scan to the measurement).
  for (let i = 0; i < n; i++) {
    const g = gapMs();
    if (g > 0) await sleep(g);
    const got = new Promise((r) => {
      resolve = r;
    });
    const t0 = process.hrtime.bigint();
    put(i % 2 === 0 ? 640 : 512);
    await got;
    out.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return out;
}

function threadCpuNs(name) {
  for (const t of readdirSync('/proc/self/task')) {
    try {
      if (readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim() !== name) continue;
      return Number(readFileSync(`/proc/self/task/${t}/schedstat`, 'utf8').split(' ')[0]);
    } catch {}
  }
  return Number.NaN;
}
// The floor for one idle wakeup on this machine: a C loop blocked on a timerfd
// that does one pread per tick, CPU time from its own schedstat. (On VMs a
// wakeup after a long sleep costs hundreds of microseconds whatever runs.)
const C_FLOOR = `#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/timerfd.h>
#include <unistd.h>
int main(int argc, char** argv) {
  int ms = atoi(argv[1]), n = atoi(argv[2]);
  int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  struct itimerspec its = {{ms / 1000, (ms % 1000) * 1000000L}, {ms / 1000, (ms % 1000) * 1000000L}};
  timerfd_settime(tfd, 0, &its, 0);
  char buf[256];
  int st = open("/proc/thread-self/schedstat", O_RDONLY), t = open("/proc/sys/kernel/tainted", O_RDONLY);
  ssize_t l = pread(st, buf, sizeof buf - 1, 0);
  buf[l > 0 ? l : 0] = 0;
  long long a = atoll(buf);
  for (int i = 0; i < n; i++) { uint64_t x; if (read(tfd, &x, 8) != 8 || pread(t, buf, 32, 0) < 0) return 1; }
  l = pread(st, buf, sizeof buf - 1, 0);
  buf[l > 0 ? l : 0] = 0;
  printf("%lld\\n", (atoll(buf) - a) / n);
  return 0;
}
`;
function cFloor(intervalMs, n) {
  try {
    const out = join(here, '.build');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'timerfd-floor.c'), C_FLOOR);
    const bin = join(out, 'timerfd-floor');
    execFileSync('cc', ['-O2', '-o', bin, join(out, 'timerfd-floor.c')]);
    return new Promise((resolve) =>
      execFile(bin, [String(intervalMs), String(n)], (err, stdout) => resolve(err ? Number.NaN : Number(stdout) / 1e6)),
    );
  } catch {
    return Promise.resolve(Number.NaN);
  }
}

const mainCpuNs = () => Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0]);

const rows = [];
try {
  // 1. inotify
  put(512);
  {
    const w = watchTaint({ path: file, triggers: ['inotify'], interval: 0, ignoreInitial: true });
    await new Promise((r) => w.once('ready', r));
    await latency(w, 200); // warm up
    const xs = await latency(w, N);
    await w.close();
    rows.push({
      case: `inotify, ${N} writes`,
      p50_ms: ms(pct(xs, 50)),
      p99_ms: ms(pct(xs, 99)),
      max_ms: ms(Math.max(...xs)),
      target: 'p99 <= 1 ms',
      ok: pct(xs, 99) <= 1 ? 'yes' : 'NO',
    });
  }

  // 2. poll only: writes at random phases of the timer
  for (const interval of [10, 50, 100]) {
    const n = interval <= 10 ? 200 : 60;
    const w = watchTaint({ path: file, triggers: ['poll'], interval, ignoreInitial: true });
    await new Promise((r) => w.once('ready', r));
    const xs = await latency(w, n, () => Math.random() * interval);
    await w.close();
    rows.push({
      case: `poll only, interval ${interval} ms, ${n} writes`,
      p50_ms: ms(pct(xs, 50)),
      p99_ms: ms(pct(xs, 99)),
      max_ms: ms(Math.max(...xs)),
      target: `max <= ${interval + 2} ms`,
      ok: Math.max(...xs) <= interval + 2 ? 'yes' : 'NO',
    });
  }

  // 3. idle: the real sysctl, every trigger, default 5 s poll
  {
    const w = watchTaint();
    const [triggers] = await new Promise((r) => w.once('ready', (...a) => r(a)));
    await sleep(100);
    const s0 = addon.watchStats();
    const cpu0 = process.cpuUsage();
    const js0 = mainCpuNs();
    const th0 = threadCpuNs('kernel-taint');
    await sleep(IDLE_MS);
    const js1 = mainCpuNs();
    const th1 = threadCpuNs('kernel-taint');
    const cpu = process.cpuUsage(cpu0);
    const s1 = addon.watchStats();
    await w.close();
    const by = Object.fromEntries(Object.entries(s1.wakeupsBySource).map(([k, v]) => [k, v - s0.wakeupsBySource[k]]));
    const wakeups = s1.wakeups - s0.wakeups;
    const expectedTimer = Math.floor(IDLE_MS / 5000);
    const jsMs = (js1 - js0) / 1e6;
    rows.push({
      case: `idle ${IDLE_MS / 1000} s [${triggers.join(',')}]: JS thread CPU`,
      p50_ms: ms(jsMs),
      p99_ms: '',
      max_ms: '',
      target: '< 1 ms (includes the timer that ends the wait)',
      ok: jsMs < 1 ? 'yes' : 'NO',
    });
    // Measured after the window, so that the child process does not wake this one during it.
    const floorMs = await cFloor(5000, Math.max(1, Math.floor(IDLE_MS / 5000)));
    rows.push({
      case: 'idle: watch thread CPU',
      p50_ms: ms((th1 - th0) / 1e6),
      p99_ms: '',
      max_ms: '',
      target: `C timerfd+pread floor: ${ms(floorMs)} ms per wakeup`,
      ok: '',
    });
    rows.push({
      case: 'idle: whole process CPU (process.cpuUsage)',
      p50_ms: ms((cpu.user + cpu.system) / 1000),
      p99_ms: '',
      max_ms: '',
      target: '',
      ok: '',
    });
    rows.push({
      case: `idle: native wakeups ${wakeups} (${Object.entries(by)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}), reads ${s1.reads - s0.reads}, JS calls ${s1.jsCalls - s0.jsCalls}`,
      p50_ms: '',
      p99_ms: '',
      max_ms: '',
      target: `timer only (~${expectedTimer})`,
      ok: by.timer <= expectedTimer + 1 && wakeups === by.timer + by.uevent + by.kmsg ? 'yes' : 'NO',
    });
  }
} finally {
  closeSync(fd);
  rmSync(dir, { recursive: true, force: true });
}

console.log(`kernel-taint watch benchmark — node ${process.version}, ${process.arch}`);
console.table(rows);
