// CPU hotplug guest for the real-kernel tests (kt.run=hotplug, booted with -smp 2): a watcher with
// attribution:'auto' runs while cpu1 goes offline and comes back; a child pinned to cpu1 (busybox
// taskset) writes a taint bit before and after. The watchpoint must report both writes from cpu1.
// Reports raw observations as "KT {json}" records; the host (test/kernel/kernel.test.ts) decides.
//   {t:"hp-ready"}   cpus online, 'ready' arguments
//   {t:"hp-write"}   phase (before/after), the child's pid, every 'change' it caused (trigger, cpu, actor)
//   {t:"hp-cycle"}   offline/online of cpu1: the online list in between, watchStats() rearms
//   {t:"hp-done"}
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';

const TAINTED = '/proc/sys/kernel/tainted';
const CPU1 = '/sys/devices/system/cpu/cpu1/online';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const online = () => fs.readFileSync('/sys/devices/system/cpu/online', 'utf8').trim();
const out = fs.openSync(process.env.KT_OUT || '/dev/console', 'w');
const emit = (obj) => fs.writeSync(out, `KT ${JSON.stringify(obj)}\n`);
const errInfo = (e) => ({ name: e?.name, code: e?.code, message: String(e?.message ?? e) });

async function main() {
  const api = await import('/pkg/dist/index.mjs');
  let addon = null; // the same addon instance the package loaded: watchStats() for the re-arm count
  try {
    addon = createRequire(import.meta.url)('/pkg/build/Release/kernel_taint.node');
  } catch {}
  const rearms = () => addon?.watchStats?.().watchpointRearms ?? null;
  const changes = [];
  const w = api.watchTaint({ attribution: 'auto', ignoreInitial: true });
  w.on('change', (c) => changes.push(c));
  w.on('error', (e) => emit({ t: 'hp-error', error: errInfo(e) }));
  const ready = await Promise.race([new Promise((res) => w.once('ready', (...a) => res(a))), sleep(120000)]);
  emit({
    t: 'hp-ready',
    online: online(),
    cpu1: fs.existsSync(CPU1),
    ready: ready ? JSON.parse(JSON.stringify(ready)) : null,
  });

  const stats = () => {
    const st = addon?.watchStats?.() ?? {};
    return Object.fromEntries(Object.entries(st).filter(([k]) => k.startsWith('watchpoint')));
  };
  const write = async (phase, value) => {
    const seen = changes.length;
    const statsBefore = stats();
    const r = spawnSync('taskset', ['-c', '1', '/bin/sh', '-c', `echo ${value} > ${TAINTED}`]);
    const t0 = performance.now();
    while (changes.length === seen && performance.now() - t0 < 10000) await sleep(5);
    await sleep(100);
    emit({
      t: 'hp-write',
      phase,
      value,
      pid: r.pid,
      status: r.status,
      stderr: String(r.stderr ?? '').slice(0, 500),
      statsBefore,
      statsAfter: stats(),
      changes: changes.slice(seen).map((c) => ({
        added: c.added.map((f) => f.letter).join(''),
        trigger: c.trigger,
        actor: c.actor ? { kind: c.actor.kind, pid: c.actor.pid, comm: c.actor.comm } : null,
        cpu: c.attribution?.[0]?.cpu ?? null,
        via: c.attribution?.[0]?.via ?? null,
        samples: c.attribution?.[0]?.samples ?? null,
        timeNs: c.attribution?.[0]?.timeNs ?? null,
      })),
    });
  };

  await write('before', 64); // U (bit 6): a process's bit
  const rearms0 = rearms();
  fs.writeFileSync(CPU1, '0');
  await sleep(500);
  const offline = online();
  fs.writeFileSync(CPU1, '1');
  // The source re-opens cpu1 when the watch thread reads the online uevent.
  const t0 = performance.now();
  while (rearms() === rearms0 && performance.now() - t0 < 10000) await sleep(20);
  emit({ t: 'hp-cycle', offline, online: online(), rearmsBefore: rearms0, rearmsAfter: rearms() });
  await write('after', 2); // F (bit 1): a process's bit
  w.close();
}

try {
  await main();
} catch (e) {
  emit({ t: 'node-error', where: 'hotplug', error: errInfo(e), stack: String(e?.stack ?? '') });
}
emit({ t: 'hp-done' });
fs.closeSync(out);
process.exit(0);
