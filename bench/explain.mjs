// `npm run bench:explain`: explainTaint() on a full 1 MiB kernel log ring, from dist/.
// The ring is built here in /dev/kmsg record format (`pri,seq,usec,flags;text`, dictionary
// continuation lines on some records) from real kernel log lines only:
//   - filler: every record of the fixture rings (test/fixtures/kmsg, from QEMU console logs of
//     Debian 6.1 and 7.x kernels) and every line of test/fixtures/oops-lines.tsv (oops and WARN
//     reports collected from public bug reports) that explains no taint bit, in turn;
//   - at the very end, the real records that explain the set bits: the 6.1 module-load lines of
//     kt_prop (P O E), the 7.0.11 new-banner WARN (W) and a soft lockup from a public report (L),
//     so the whole ring is read and every record goes through the line matcher.
// Baselines, measured in the same run on the same file:
//   - read + split: readFileSync + split('\n') of the ring (the cost of touching the bytes);
//   - read + parse: the same, each record parsed by parseKmsgRecord (the cost of the record format).
// Also: the same ring with the explaining records at the start (the scan stops early), a
// watcher's start to its initial change with the log and without (it reads the ring once: the
// difference should be one explainTaint full read, not two), the same with an audit journal opened on
// the watcher (one read for both, against the journal reading the log itself), and the real /dev/kmsg
// when this process may read it.
// Environment: KT_BENCH_RUNS (default 30).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const { explainTaint, kmsgLineCause, parseKmsgRecord, watchTaint } = require('../dist/index.cjs');

const RUNS = Number(process.env.KT_BENCH_RUNS ?? 30);
const RING = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-explain-'));
const fixture = (name) => readFileSync(fileURLToPath(new URL(`../test/fixtures/${name}`, import.meta.url)), 'utf8');

/** Record texts of a fixture ring (continuation lines dropped), with their priority. */
function records(name) {
  return fixture(`kmsg/${name}`)
    .split('\n')
    .map((l) => parseKmsgRecord(l))
    .filter((r) => r !== null)
    .map((r) => [r.pri, r.text]);
}

// Real lines that explain nothing: the fixtures' other records and the oops/WARN report lines.
const oops = fixture('oops-lines.tsv')
  .split('\n')
  .slice(1)
  .map((l) => l.split('\t')[3] ?? '')
  // Console captures carry "[ 1360.755028] " stamps, sometimes several lines run together: take the first.
  .map((l) =>
    l
      .replace(/^\[\s*\d+\.\d+\]\s*/, '')
      .split(/\[\s*\d+\.\d+\]/)[0]
      .trimEnd(),
  )
  .filter((t) => t.length > 0)
  .map((t) => [4, t]);
const ORDINARY = [...records('bookworm-6.1.kmsg'), ...records('trixie-7x.kmsg'), ...oops].filter(
  ([, t]) => kmsgLineCause(t) === null,
);
const real61 = records('bookworm-6.1.kmsg');
const real7x = records('trixie-7x.kmsg');
const pick = (rs, s) => rs.find(([, t]) => t.includes(s));
const EXPLAINING = [
  pick(real61, 'loading out-of-tree module'),
  pick(real61, "module license 'Proprietary'"),
  pick(real61, 'module verification failed'),
  pick(real7x, 'cut here'),
  pick(real7x, 'WARNING: arch/x86/kernel/cpu/bugs.c:3736'),
  pick(real7x, 'Comm: (udev-worker)'),
  // linux-ext4 report of an AA deadlock with block_dump (a real soft lockup line).
  [0, 'watchdog: BUG: soft lockup - CPU#19 stuck for 22s! [jbd2/pmem0-8:1002]'],
];
if (EXPLAINING.some((r) => r === undefined)) throw new Error('bench: a fixture record it needs is gone');

function ring(explainingFirst) {
  const out = [];
  let seq = 0;
  let usec = 0;
  let size = 0;
  const push = (pri, text, dict) => {
    usec += 1237;
    let rec = `${pri},${seq++},${usec},-;${text}\n`;
    if (dict) rec += ' SUBSYSTEM=net\n DEVICE=n2\n';
    out.push(rec);
    size += Buffer.byteLength(rec);
  };
  const tail = EXPLAINING.reduce((n, [, t]) => n + Buffer.byteLength(t) + 24, 0);
  if (explainingFirst) for (const [pri, t] of EXPLAINING) push(pri, t, false);
  for (let i = 0; size < RING - (explainingFirst ? 0 : tail); i++) {
    const [pri, t] = ORDINARY[i % ORDINARY.length];
    push(pri, t, i % 5 === 0);
  }
  if (!explainingFirst) for (const [pri, t] of EXPLAINING) push(pri, t, false);
  return { text: out.join(''), records: seq };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(fn) {
  for (let i = 0; i < 3; i++) fn(); // warm up
  const xs = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    fn();
    xs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return median(xs);
}

const taint = join(dir, 'tainted');
// P W O E L
writeFileSync(taint, `${(1 << 0) | (1 << 9) | (1 << 12) | (1 << 13) | (1 << 14)}\n`);
const last = ring(false);
const first = ring(true);
const lastPath = join(dir, 'ring-last');
const firstPath = join(dir, 'ring-first');
writeFileSync(lastPath, last.text);
writeFileSync(firstPath, first.text);

const check = explainTaint({ path: taint, profile: 'mainline', kmsgPath: lastPath });
const explained = check.bits
  .filter((b) => b.source === 'kmsg')
  .map((b) => b.flag.letter)
  .join('');
if (explained !== 'PWOEL') throw new Error(`bench ring not explained: ${explained}, limits ${check.limits}`);

const baseline = time(() => readFileSync(lastPath, 'utf8').split('\n').length);
const parsed = time(() => {
  let n = 0;
  for (const l of readFileSync(lastPath, 'utf8').split('\n')) if (parseKmsgRecord(l) !== null) n++;
  return n;
});
const full = time(() => explainTaint({ path: taint, profile: 'mainline', kmsgPath: lastPath }));
const early = time(() => explainTaint({ path: taint, profile: 'mainline', kmsgPath: firstPath }));

/** The watcher both start measurements use: the temp taint file, inotify only, no perf sources. */
function benchWatcher(kmsgPath) {
  return watchTaint({
    path: taint,
    profile: 'mainline',
    triggers: ['inotify'],
    attribution: 'off',
    _kmsgPath: kmsgPath,
  });
}

// A watcher's start: watchTaint() to its initial change (evidence of P W O E L), with the log and
// without any (the difference is what the log costs it). It reads the ring once, to its end, whatever
// the order of the records (its tail must end up after the last one).
async function watcherStart(kmsgPath) {
  const t0 = process.hrtime.bigint();
  const w = benchWatcher(kmsgPath);
  const c = await new Promise((resolve) => w.once('change', resolve));
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await w.close();
  if (kmsgPath !== null && c.evidence.filter((e) => e.source === 'kmsg').length !== 5)
    throw new Error('bench: watcher evidence');
  return ms;
}
async function timeAsync(fn) {
  for (let i = 0; i < 3; i++) await fn();
  const xs = [];
  for (let i = 0; i < RUNS; i++) xs.push(await fn());
  return median(xs);
}
let watchNoLog = null;
let watchLog = null;
try {
  watchNoLog = await timeAsync(() => watcherStart(null));
  watchLog = await timeAsync(() => watcherStart(lastPath));
} catch (e) {
  console.log(`watcher start not measured: ${e.code ?? e.message}`);
}

// A watcher with an audit journal (`watch --journal`, `serve --journal`): watchTaint() +
// openTaintJournal({ source }) to the initial change, the journal's start records (P W O E L) on disk.
// The pair reads the ring once (the journal takes its start evidence from the watcher's read); baseline
// in the same run: the journal given the same log as its own `kmsgPath`, which it reads itself (what
// the CLI pair did before: two reads of the ring), and the pair without a log.
const { openTaintJournal } = require('../dist/journal.cjs');
const shm = (() => {
  try {
    return mkdtempSync('/dev/shm/kt-bench-journal-');
  } catch {
    return mkdtempSync(join(dir, 'journal-'));
  }
})();
writeFileSync(join(shm, 'boot_id'), 'bench-boot\n');
let journalRun = 0;
async function journalStart(kmsgPath, own) {
  const file = join(shm, `j${journalRun++}.jsonl`);
  const t0 = process.hrtime.bigint();
  const w = benchWatcher(kmsgPath);
  const initial = new Promise((resolve) => w.once('change', resolve));
  const j = openTaintJournal(file, {
    env: {},
    source: w,
    bootIdPath: join(shm, 'boot_id'),
    ...(own ? { kmsgPath } : {}),
  });
  const c = await initial;
  const evidence = c.evidence;
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  await j.close();
  await w.close();
  rmSync(file, { force: true });
  rmSync(`${file}.lock`, { force: true });
  if (kmsgPath !== null && evidence.filter((e) => e.source === 'kmsg').length !== 5)
    throw new Error('bench: watcher evidence with a journal');
  return ms;
}
let journalNoLog = null;
let journalShared = null;
let journalOwn = null;
try {
  // Interleaved, so that the load of a shared machine weighs on the three alike.
  const xs = [[], [], []];
  for (let i = 0; i < RUNS + 3; i++) {
    const t = [
      await journalStart(null, false),
      await journalStart(lastPath, false),
      await journalStart(lastPath, true),
    ];
    if (i >= 3) for (let k = 0; k < 3; k++) xs[k].push(t[k]);
  }
  [journalNoLog, journalShared, journalOwn] = xs.map(median);
} catch (e) {
  console.log(`watcher + journal start not measured: ${e.code ?? e.message}`);
}
rmSync(shm, { recursive: true, force: true });

// A running watcher's change: reading `change.evidence` (the tail reads what came since, then scans the
// records it keeps, up to 2 x 2048, for a bit the log does not explain: M, so the whole scan runs).
// Each record's line cause is parsed once, so later changes pay a lookup per kept record, not a parse.
async function changeEvidence(kmsgPath) {
  const file = join(dir, 'tainted-change');
  writeFileSync(file, '0\n');
  const w = watchTaint({
    path: file,
    profile: 'mainline',
    triggers: ['inotify'],
    attribution: 'off',
    _kmsgPath: kmsgPath,
  });
  await new Promise((resolve) => w.once('change', resolve));
  const xs = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const next = new Promise((resolve) => w.once('change', resolve));
    writeFileSync(file, i % 2 === 0 ? '16\n' : '0\n');
    const c = await next;
    const t0 = process.hrtime.bigint();
    const ev = c.evidence;
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i % 2 === 0 && (ev.length !== 1 || ev[0].cause !== null)) throw new Error('bench: change evidence');
    if (i >= 3 && i % 2 === 0) xs.push(ms);
  }
  await w.close();
  return median(xs);
}
let perChange = null;
try {
  perChange = await changeEvidence(lastPath);
} catch (e) {
  console.log(`change evidence not measured: ${e.code ?? e.message}`);
}

let real = null;
try {
  const t0 = process.hrtime.bigint();
  const e = explainTaint({ path: taint, profile: 'mainline' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  real = e.limits.some((l) => l.startsWith('kernel log not')) ? `unreadable (${e.limits[0]})` : `${ms.toFixed(2)} ms`;
} catch (e) {
  real = `error ${e.code}`;
}

const mib = (Buffer.byteLength(last.text) / 1048576).toFixed(2);
console.log(
  `ring: ${mib} MiB, ${last.records} records (${ORDINARY.length} distinct real filler lines); ${RUNS} runs each, median`,
);
console.log(`baseline read + split('\\n')      ${baseline.toFixed(2)} ms`);
console.log(
  `baseline read + parse records    ${parsed.toFixed(2)} ms (${(parsed / baseline).toFixed(1)}x read + split)`,
);
console.log(`explainTaint, records at the end ${full.toFixed(2)} ms (${(full / baseline).toFixed(1)}x baseline)`);
console.log(
  `explainTaint, records at start   ${early.toFixed(2)} ms (${(early / baseline).toFixed(2)}x baseline: stops once every bit is explained)`,
);
if (watchLog !== null) {
  const cost = watchLog - watchNoLog;
  console.log(
    `watcher start to initial change: ${watchLog.toFixed(2)} ms with the log, ${watchNoLog.toFixed(2)} ms without; the log costs ${cost.toFixed(2)} ms (${(cost / full).toFixed(2)}x one explainTaint full read)`,
  );
}
if (journalShared !== null) {
  const shared = journalShared - journalNoLog;
  const own = journalOwn - journalNoLog;
  console.log(
    `watcher + journal start to initial change: ${journalShared.toFixed(2)} ms (the log costs ${shared.toFixed(2)} ms, ${(shared / full).toFixed(2)}x one explainTaint full read); journal reading its own kmsgPath (two reads): ${journalOwn.toFixed(2)} ms (${own.toFixed(2)} ms, ${(own / full).toFixed(2)}x); no log: ${journalNoLog.toFixed(2)} ms`,
  );
}
if (perChange !== null) {
  console.log(
    `a running watcher's change.evidence (M, no record explains it: scans every kept record): ${perChange.toFixed(2)} ms (${(perChange / baseline).toFixed(2)}x baseline)`,
  );
}
console.log(`explainTaint on this host's /dev/kmsg: ${real}`);
rmSync(dir, { recursive: true, force: true });
