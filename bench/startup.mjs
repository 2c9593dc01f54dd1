// `npm run bench:startup`: what importing kernel-taint costs a short-lived
// process (issue #15). Runs, in one shuffled series on this machine, an empty
// `node -e 0` (the baseline), `node -e "require('kernel-taint').readTaint()"`
// and `kernel-taint --json`, and prints median wall times and the median of
// each round's ratio to that round's baseline (pairing rounds keeps a load
// that changes during the run out of the ratio), and the same for the CPU time
// each process used (user + system, all its threads: what its wall time is on
// an idle machine, and much steadier on a loaded one; every process, the
// baseline too, reports it from a one-line --require hook). Also counts the JS
// the core loads (by require and by import) and where the first readTaint()
// spends its time. Exits 1 when a target is missed: require + readTaint ≤
// 1.15× the empty process in CPU time (the wall-time ratio is printed beside
// it; on a machine shared with other jobs it swings with their load), core JS
// ≤ 40 kB for require and import, no node:http.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.KT_BENCH_ROUNDS ?? 40);
const RATIO_TARGET = 1.15;
const BYTES_TARGET = 40_000;

const contenders = {
  'node -e 0': ['-e', '0'],
  "require('kernel-taint').readTaint()": ['-e', "require('kernel-taint').readTaint()"],
  'kernel-taint --json': [join(root, 'bin/kernel-taint.cjs'), '--json'],
};

// Each process prints the CPU time it used on its way out, on stderr.
const hookDir = mkdtempSync(join(tmpdir(), 'kt-startup-'));
const hook = join(hookDir, 'cpu.cjs');
writeFileSync(
  hook,
  "process.on('exit', () => { const u = process.cpuUsage(); require('node:fs').writeSync(2, '\\nKT_CPU_US ' + (u.user + u.system) + '\\n'); });\n",
);
process.on('exit', () => rmSync(hookDir, { recursive: true, force: true }));

function once(args) {
  const t = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--require', hook, ...args], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  const cpu = /KT_CPU_US (\d+)/.exec(r.stderr);
  if ((r.status !== 0 && r.status !== 1) || !cpu) throw new Error(`${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return { ms, cpu: Number(cpu[1]) / 1000 };
}

function child(args) {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
};

const names = Object.keys(contenders);
const times = Object.fromEntries(names.map((k) => [k, []]));
for (const k of names) once(contenders[k]); // warm the page cache
for (let r = 0; r < ROUNDS; r++) {
  const order = [...names].sort(() => Math.random() - 0.5);
  for (const k of order) times[k].push(once(contenders[k]));
}
const base = times['node -e 0'];
const ratio = (k, m) => median(times[k].map((t, i) => t[m] / base[i][m]));

// What the core loads, in children: its files under dist/ (CommonJS cache; by
// import, the ESM wrapper too), and whether node:http came with them.
const LOADED = `Object.keys(require('node:module')._cache).filter((f) => f.includes('/dist/')).map((f) => [f.replace(/.*\\/dist\\//, ''), require('node:fs').statSync(f).size])`;
const HTTP = `process.moduleLoadList.some((m) => /^NativeModule (https?|_http_\\w+)$/.test(m))`;
const probes = {
  require: child([
    '-e',
    `require('kernel-taint').readTaint(); console.log(JSON.stringify({ files: ${LOADED}, http: ${HTTP} }))`,
  ]),
  import: child([
    '--input-type=module',
    '-e',
    `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);
     (await import('kernel-taint')).readTaint();
     const own = require.resolve('kernel-taint').replace(/[.]cjs$/, '.mjs');
     console.log(JSON.stringify({ files: [...${LOADED}, ['index.mjs', require('node:fs').statSync(own).size]], http: ${HTTP} }))`,
  ]),
};

// Where the time goes, in-process: each step of a first read, median over runs.
const STEPS = `const t = () => Number(process.hrtime.bigint()) / 1e6; const out = {}; let last = t();
  const lap = (k) => { const n = t(); out[k] = n - last; last = n; };
  const k = require('kernel-taint'); lap('require (core chunk, flags.json, TAINT_FLAGS)');
  k.isSupported(); lap('load the addon (dlopen)');
  k.readTaintValue(); lap('first readTaintValue()');
  k.detectProfile(); lap('detectProfile() (osrelease, os-release)');
  k.readTaint(); lap('rest of the first readTaint()');
  console.log(JSON.stringify(out));`;
const steps = Array.from({ length: Math.max(5, Math.min(15, ROUNDS)) }, () => child(['-e', STEPS]));

console.log(
  `startup, ${ROUNDS} rounds (medians over whole processes; ratios: median of each round's ratio to its node -e 0):`,
);
console.log(
  `  ${''.padEnd(38)} ${'wall ms'.padStart(8)} ${'ratio'.padStart(7)}  ${'CPU ms'.padStart(7)} ${'ratio'.padStart(7)}`,
);
let ok = true;
for (const k of names) {
  const target = k.startsWith('require') ? RATIO_TARGET : null;
  const wall = ratio(k, 'ms');
  const cpu = ratio(k, 'cpu');
  const missed = target !== null && cpu > target;
  if (missed) ok = false;
  const cell = (m) => median(times[k].map((t) => t[m])).toFixed(1);
  console.log(
    `  ${k.padEnd(38)} ${cell('ms').padStart(8)} ${wall.toFixed(3).padStart(6)}×  ${cell('cpu').padStart(7)} ${cpu.toFixed(3).padStart(6)}×${target ? `  (target: CPU ≤ ${target}×${missed ? ', MISSED' : ''})` : ''}`,
  );
}
for (const [how, p] of Object.entries(probes)) {
  const bytes = p.files.reduce((n, [, size]) => n + size, 0);
  const missed = bytes > BYTES_TARGET || p.http;
  if (missed) ok = false;
  console.log(
    `core JS loaded by ${how}: ${p.files.length} files, ${(bytes / 1000).toFixed(1)} kB (target ≤ ${BYTES_TARGET / 1000} kB): ${p.files.map(([f, s]) => `${f} ${(s / 1000).toFixed(1)}`).join(', ')}; node:http ${p.http ? 'loaded (MISSED)' : 'not loaded'}${missed ? ' MISSED' : ''}`,
  );
}
console.log('first read after import, in-process (median ms):');
for (const k of Object.keys(steps[0]))
  console.log(
    `  ${k.padEnd(46)} ${median(steps.map((s) => s[k]))
      .toFixed(2)
      .padStart(6)}`,
  );
if (!ok) {
  console.log('a target was missed');
  process.exitCode = 1;
}
