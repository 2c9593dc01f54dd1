// `npm run bench:explain`: explainTaint() on a full 1 MiB kernel log ring, from dist/.
// The ring is generated here in /dev/kmsg record format (`pri,seq,usec,flags;text`,
// dictionary continuation lines on some records): ordinary driver lines, with the
// records that explain the set bits (P O E from a module load, W with the new
// banner, L) at the very end, so the whole ring is read and every record matched.
// Baselines, measured in the same run on the same file:
//   - read + split: readFileSync + split('\n') of the ring (the cost of touching the bytes).
// Also: the same ring with the explaining records at the start (the scan stops early),
// and the real /dev/kmsg when this process may read it.
// Environment: KT_BENCH_RUNS (default 30).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const require = createRequire(import.meta.url);
const { explainTaint } = require('../dist/index.cjs');

const RUNS = Number(process.env.KT_BENCH_RUNS ?? 30);
const RING = 1024 * 1024;
const dir = mkdtempSync(join(tmpdir(), 'kt-bench-explain-'));

const ORDINARY = [
  'e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: Rx/Tx',
  'audit: type=1400 audit(1764650000.123:42): apparmor="STATUS" operation="profile_load" name="snap.lxd"',
  'EXT4-fs (nvme0n1p2): mounted filesystem 6f1c9b2e-1d3a-4c55-8a0e-2f6c1d7b9e10 r/w with ordered data mode.',
  'systemd[1]: Started systemd-journald.service - Journal Service.',
  'usb 1-1: new high-speed USB device number 2 using xhci_hcd',
  'IPv6: ADDRCONF(NETDEV_CHANGE): eth0: link becomes ready',
  'nvme nvme0: 8/0/0 default/read/poll queues',
  'Bluetooth: hci0: Firmware revision 0.0 build 14 week 44 2021',
];
const EXPLAINING = [
  [4, 'kt_prop: loading out-of-tree module taints kernel.'],
  [4, "kt_prop: module license 'Proprietary' taints kernel."],
  [4, 'kt_prop: module verification failed: signature and/or required key missing - tainting kernel'],
  [4, '------------[ cut here ]------------'],
  [4, 'WARNING: arch/x86/kernel/cpu/bugs.c:3736 at __warn_thunk+0x10/0x20, CPU#1: (udev-worker)/728'],
  [4, 'CPU: 1 UID: 0 PID: 728 Comm: (udev-worker) Tainted: P           OE      7.2.13 #1'],
  [0, 'watchdog: BUG: soft lockup - CPU#3 stuck for 22s! [kworker/3:1:4242]'],
];

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
    size += rec.length;
  };
  const tail = EXPLAINING.reduce((n, [, t]) => n + t.length + 24, 0);
  if (explainingFirst) for (const [pri, t] of EXPLAINING) push(pri, t, false);
  for (let i = 0; size < RING - (explainingFirst ? 0 : tail); i++) push(6, ORDINARY[i % ORDINARY.length], i % 5 === 0);
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
const full = time(() => explainTaint({ path: taint, profile: 'mainline', kmsgPath: lastPath }));
const early = time(() => explainTaint({ path: taint, profile: 'mainline', kmsgPath: firstPath }));

let real = null;
try {
  const t0 = process.hrtime.bigint();
  const e = explainTaint({ path: taint, profile: 'mainline' });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  real = e.limits.some((l) => l.startsWith('kernel log not')) ? `unreadable (${e.limits[0]})` : `${ms.toFixed(2)} ms`;
} catch (e) {
  real = `error ${e.code}`;
}

const mib = (last.text.length / 1048576).toFixed(2);
console.log(`ring: ${mib} MiB, ${last.records} records; ${RUNS} runs each, median`);
console.log(`baseline read + split('\\n')      ${baseline.toFixed(2)} ms`);
console.log(`explainTaint, records at the end ${full.toFixed(2)} ms (${(full / baseline).toFixed(1)}x baseline)`);
console.log(
  `explainTaint, records at start   ${early.toFixed(2)} ms (${(early / baseline).toFixed(2)}x baseline: stops once every bit is explained)`,
);
console.log(`explainTaint on this host's /dev/kmsg: ${real}`);
rmSync(dir, { recursive: true, force: true });
