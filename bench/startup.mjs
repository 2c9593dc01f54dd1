// `npm run bench:startup`: what importing kernel-taint costs a short-lived
// process. Runs, in one shuffled series on this machine, an empty `node -e 0`
// (the baseline), `node -e "require('kernel-taint').readTaint()"` and
// `kernel-taint --json`, and prints median wall times and the ratios to the
// baseline. Also counts the JS the core loads. Exits 1 when a target is missed:
// readTaint ≤ 1.15× the empty process, core JS ≤ 40 kB, no node:http.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.KT_BENCH_ROUNDS ?? 40);

const contenders = {
  'node -e 0': ['-e', '0'],
  "require('kernel-taint').readTaint()": ['-e', "require('kernel-taint').readTaint()"],
  'kernel-taint --json': [join(root, 'bin/kernel-taint.cjs'), '--json'],
};

function once(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { cwd: root, stdio: ['ignore', 'ignore', 'pipe'] });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0 && r.status !== 1) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return ms;
}

const times = Object.fromEntries(Object.keys(contenders).map((k) => [k, []]));
for (const k of Object.keys(contenders)) once(contenders[k]); // warm the page cache
for (let r = 0; r < ROUNDS; r++) {
  const order = Object.keys(contenders).sort(() => Math.random() - 0.5);
  for (const k of order) times[k].push(once(contenders[k]));
}
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};
const base = median(times['node -e 0']);

// What the core loads, in a child: its files under dist/, and whether node:http came with them.
const probe = spawnSync(
  process.execPath,
  [
    '-e',
    `require('kernel-taint').readTaint();
     const files = Object.keys(require.cache).filter((f) => f.includes('/dist/'));
     console.log(JSON.stringify({ files, http: process.moduleLoadList.some((m) => /^NativeModule (https?|_http_\\w+)$/.test(m)) }));`,
  ],
  { cwd: root, encoding: 'utf8' },
);
const loaded = JSON.parse(probe.stdout);
const bytes = loaded.files.reduce((n, f) => n + statSync(f).size, 0);

console.log(`startup, ${ROUNDS} rounds (median wall time of a whole process):`);
let ok = true;
for (const [k, t] of Object.entries(times)) {
  const ratio = median(t) / base;
  const target = k.startsWith('require') ? 1.15 : null;
  if (target && ratio > target) ok = false;
  console.log(
    `  ${k.padEnd(38)} ${median(t).toFixed(1).padStart(7)} ms  ${ratio.toFixed(3)}×${target ? `  (target ≤ ${target}×${ratio > target ? ', MISSED' : ''})` : ''}`,
  );
}
console.log(`core JS loaded: ${loaded.files.length} files, ${(bytes / 1000).toFixed(1)} kB (target ≤ 40 kB)`);
console.log(`node:http loaded by the core: ${loaded.http ? 'yes (MISSED)' : 'no'}`);
if (bytes > 40_000 || loaded.http) ok = false;
if (!ok) {
  console.log('a target was missed');
  process.exitCode = 1;
}
