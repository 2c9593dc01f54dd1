// `npm run bench:modules`: how long a 'change' that adds a module bit takes to reach JS
// on a host with 200 loaded modules, from dist/ (issue #15: target p99 <= 1 ms).
//
// Three watchers on three temp taint files, armed like a default watcher on the host
// (inotify + uevent, so a watch thread vouches for the cached module list), measured
// interleaved in rounds so the shared machine's noise hits every case alike. Each sample
// is one pwrite that adds a bit -> the 'change' in JS (after a write that clears it):
//   1. baseline: adds D (not a module bit): no module list is read;
//   2. /proc/modules: adds O with a fake /proc/modules of 200 modules (real m_show
//      format, 12 of them tainting): the module bits changed, so the change reads and
//      parses the list once (shared by `modules` and `evidence`);
//   3. /sys/module: adds O with a fake /sys/module tree of the same 200 modules and no
//      /proc/modules: the fallback, which was the only path before (one stat per entry,
//      one read per loaded module).
// Every change of cases 2 and 3 is checked to name the carrying module.
// Environment: KT_BENCH_N (samples per case, default 1000), KT_BENCH_ROUND (default 50).
// On a shared machine the tail is other tenants' scheduling: run it under `chrt -f 10` (root) to see
// this code's p99 (BENCHMARKS.md records both).
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { watchTaint } = require('../dist/index.cjs');

const N = Number(process.env.KT_BENCH_N ?? 1000);
const ROUND = Number(process.env.KT_BENCH_ROUND ?? 50);
const MODULES = 200;
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-modules-'));

const W = 1 << 9;
const D = 1 << 7;
const O = 1 << 12;

// 200 modules: 188 clean (in-tree), 12 out-of-tree ones with letters, one Loading.
const names = Array.from({ length: MODULES }, (_, i) => `mod_${String(i).padStart(3, '0')}`);
const letters = new Map(names.filter((_, i) => i % 17 === 5).map((n, i) => [n, i === 0 ? 'POE' : 'OE']));
const procPath = join(dir, 'modules');
writeFileSync(
  procPath,
  names
    .map((n, i) => {
      const l = letters.get(n);
      const state = i === 5 ? 'Loading' : 'Live';
      const flags = l ? ` (${l}${state === 'Loading' ? '+' : ''})` : '';
      return `${n} ${16384 + i * 4096} ${i % 3} ${i % 7 === 0 ? 'mod_000,' : '-'} ${state} 0x0000000000000000${flags}\n`;
    })
    .join(''),
);
const sysPath = join(dir, 'module');
for (const n of names) {
  mkdirSync(join(sysPath, n, 'parameters'), { recursive: true });
  writeFileSync(join(sysPath, n, 'taint'), `${letters.get(n) ?? ''}\n`);
}
// A real /sys/module also lists built-ins (no taint file): as many again.
for (let i = 0; i < MODULES; i++) mkdirSync(join(sysPath, `builtin_${i}`, 'parameters'), { recursive: true });
const carriers = [...letters.keys()].sort();

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const ms = (x) => x.toFixed(3);

function makeCase(id, name, bit, opts) {
  const file = join(dir, `tainted-${id}`);
  const fd = openSync(file, 'w+');
  const put = (v) => writeSync(fd, `${String(v).padStart(10, '0')}\n`, 0);
  put(W);
  const w = watchTaint({ path: file, triggers: ['inotify', 'uevent'], interval: 0, ignoreInitial: true, ...opts });
  let resolve;
  w.on('change', (c) => resolve?.(c));
  const next = () =>
    new Promise((r) => {
      resolve = r;
    });
  return {
    name,
    w,
    fd,
    xs: [],
    async sample(keep) {
      let got = next();
      const t0 = process.hrtime.bigint();
      put(W | bit);
      const c = await got;
      const dt = Number(process.hrtime.bigint() - t0) / 1e6;
      got = next();
      put(W); // clears the bit again (a change too), for the next sample
      await got;
      // Let both changes' deferred reads (evidence, module list: after the emit) finish, so a sample
      // measures one change, not the previous change's post-processing still running when it arrives.
      await new Promise((r) => setTimeout(r, 1));
      if (bit === O) {
        const named = c.modules.carrying.map((m) => m.name).join(',');
        if (named !== carriers.join(',')) throw new Error(`${name}: carrying ${named}, expected ${carriers}`);
      }
      if (keep) this.xs.push(dt);
    },
  };
}

const cases = [];
try {
  cases.push(makeCase(0, 'baseline: adds D (no module bit)', D, { _procModulesPath: procPath }));
  cases.push(makeCase(1, `adds O, /proc/modules with ${MODULES} modules`, O, { _procModulesPath: procPath }));
  cases.push(
    makeCase(2, `adds O, /sys/module with ${MODULES} modules (+${MODULES} built-ins)`, O, { _sysModuleDir: sysPath }),
  );
  await Promise.all(cases.map((c) => new Promise((r) => c.w.once('ready', r))));
  for (const c of cases) for (let i = 0; i < 100; i++) await c.sample(false); // warm up
  for (let done = 0; done < N; done += ROUND) {
    for (const c of [...cases].sort(() => Math.random() - 0.5)) {
      for (let i = 0; i < ROUND; i++) await c.sample(true);
    }
  }
} finally {
  for (const c of cases) {
    await c.w.close();
    closeSync(c.fd);
  }
  rmSync(dir, { recursive: true, force: true });
}

const base = cases[0].xs;
const rows = cases.map((c, i) => ({
  case: c.name,
  n: c.xs.length,
  p50_ms: ms(pct(c.xs, 50)),
  p99_ms: ms(pct(c.xs, 99)),
  max_ms: ms(Math.max(...c.xs)),
  p50_vs_baseline: (pct(c.xs, 50) / pct(base, 50)).toFixed(2),
  p99_vs_baseline: (pct(c.xs, 99) / pct(base, 99)).toFixed(2),
  target: i === 1 ? 'p99 <= 1 ms' : '',
  ok: i === 1 ? (pct(c.xs, 99) <= 1 ? 'yes' : 'NO') : '',
}));
console.log(
  `kernel-taint module attribution benchmark — node ${process.version}, ${process.arch}, ${N} samples a case`,
);
console.table(rows);
const target = pct(cases[1].xs, 99);
console.log(
  `target: a change adding a module bit reaches JS in p99 <= 1 ms with ${MODULES} modules: ${ms(target)} ms ${target <= 1 ? 'PASS' : 'FAIL'}`,
);
if (target > 1) process.exitCode = 1;
