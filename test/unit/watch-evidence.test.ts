import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  closeSync,
  constants,
  openSync,
  readFileSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it } from 'vitest';
import type { NativeWatchCallback, NativeWatchOptions } from '../../lib/binding.js';
import { createWatcher, type TaintChange, type WatchBinding } from '../../lib/watch.js';
import { fdsOn } from '../helpers/fs.js';
import { bits, moduleTree } from '../helpers/modules.js';
import { tempDir } from '../helpers/tmp.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/kmsg/${name}`, import.meta.url));

class FakeBinding implements WatchBinding {
  callback: NativeWatchCallback | null = null;
  constructor(readonly initial: number) {}
  watchAdd(options: NativeWatchOptions, callback: NativeWatchCallback) {
    this.callback = callback;
    return { id: 1, value: this.initial, triggers: [...options.triggers], unarmed: [] };
  }
  /** A reported value change, as the native side delivers it (the kmsg line as its cause). */
  deliver(trigger: Parameters<NativeWatchCallback>[0], value: number, line: string | null) {
    this.callback?.(trigger, value, true, line === null ? null : JSON.stringify({ kmsg: { line } }));
  }
  watchRemove() {
    return true;
  }
  watchRef() {}
  watchUnref() {}
}

const tick = () => new Promise((r) => process.nextTick(r));
let tmp: string;
beforeEach(() => {
  tmp = tempDir('kt-wev-');
});

const modules = (entries: Record<string, string>) => moduleTree(tmp, entries);

async function watch(initial: number, opts: Record<string, unknown>) {
  const b = new FakeBinding(initial);
  const w = createWatcher({ path: '/x', profile: 'mainline', ...opts }, b);
  const changes: TaintChange[] = [];
  w.on('change', (c) => changes.push(c));
  await tick();
  return { b, w, changes };
}

describe('TaintChange.evidence', () => {
  it('the initial report carries the log evidence of bits set before the watcher started', async () => {
    // P O E W set before start: the 6.1 ring explains each.
    const { w, changes } = await watch(0x3201, {
      _kmsgPath: fixture('bookworm-6.1.kmsg'),
      _sysModuleDir: modules({ kt_prop: 'POE', kt_warn: 'OE' }),
    });
    expect(changes).toHaveLength(1);
    const ev = changes[0].evidence;
    expect(ev.map((e) => [e.flag.letter, e.source, e.cause?.kind])).toEqual([
      ['P', 'kmsg', 'module'],
      ['W', 'kmsg', 'warning'],
      ['O', 'kmsg', 'module'],
      ['E', 'kmsg', 'module'],
    ]);
    expect(ev[1]).toMatchObject({ sinceBoot: 12.041456, actor: { tid: 119, comm: 'insmod', kind: 'incidental' } });
    expect(Object.isFrozen(ev)).toBe(true);
    await w.close();
  });

  it('a later change: the first log record of the new bit wins, with its log time', async () => {
    const { b, w, changes } = await watch(0, { ignoreInitial: true, _kmsgPath: fixture('trixie-7x.kmsg') });
    const line = 'WARNING: arch/x86/kernel/cpu/bugs.c:3736 at __warn_thunk+0x10/0x20, CPU#1: (udev-worker)/728';
    b.deliver('kmsg', 0x200, line);
    expect(changes).toHaveLength(1);
    expect(changes[0].kmsg).toBe(line);
    expect(changes[0].evidence).toHaveLength(1);
    expect(changes[0].evidence[0]).toMatchObject({
      source: 'kmsg',
      sinceBoot: 9.041456,
      cause: { kind: 'warning', site: 'arch/x86/kernel/cpu/bugs.c:3736', line },
      actor: { kind: 'incidental', tid: 728, comm: '(udev-worker)', via: 'kmsg' },
    });
    await w.close();
  });

  it('later changes read the log on from where the last one stopped, not the whole ring again', async () => {
    // 5,000 ordinary records, then the watcher starts; each change appends the record of its bit.
    const log = join(tmp, 'kmsg');
    const chatter = Array.from({ length: 5000 }, (_, i) => `6,${i},${1000 + i},-;ordinary line ${i}`).join('\n');
    writeFileSync(log, `${chatter}\n`);
    const { b, w, changes } = await watch(0, { _kmsgPath: log, _sysModuleDir: modules({}) });
    expect(changes.map((c) => c.trigger)).toEqual(['initial']);
    appendFileSync(log, '4,5000,9000000,-;WARNING: at kt_warn_init+0x11/0x1000 [kt_warn], CPU#0: insmod/120\n');
    b.deliver('kmsg', 0x200, null);
    expect(changes[1].evidence[0]).toMatchObject({ source: 'kmsg', sinceBoot: 9, cause: { kind: 'warning' } });
    // The file at the path is replaced by one whose only record would explain O: a watcher that
    // re-read the log from its start would find it; one that reads on from its position does not.
    unlinkSync(log);
    writeFileSync(log, '4,0,1,-;kt_prop: loading out-of-tree module taints kernel.\n');
    b.deliver('uevent', 0x1200, null);
    expect(changes[2].evidence[0]).toMatchObject({ source: 'watch', cause: null });
    await w.close();
  });

  it('no log to read: the kmsg line explains the bit, timed by the watcher', async () => {
    const { b, w, changes } = await watch(0, { ignoreInitial: true, _kmsgPath: null });
    const line = 'WARNING: at f+0x1/0x2, CPU#0: swapper/0';
    b.deliver('poll', 0x200, line);
    const e = changes[0].evidence[0];
    expect(e).toMatchObject({
      source: 'watch',
      cause: { kind: 'warning', site: 'f+0x1/0x2' },
      actor: { kind: 'incidental', tid: 0, comm: 'swapper' },
    });
    expect(e.since).toBe(changes[0].time);
    expect(e.sinceBoot).toBeGreaterThan(0);
    await w.close();
  });

  it('one entry per added bit: module bits from the modules, others unexplained but timed', async () => {
    const { b, w, changes } = await watch(0, {
      ignoreInitial: true,
      _kmsgPath: null,
      _sysModuleDir: modules({ kt_prop: 'POE' }),
    });
    b.deliver('uevent', 0x1041, null); // P U O
    const ev = changes[0].evidence;
    expect(ev.map((e) => [e.flag.letter, e.source, e.cause?.module?.name ?? null])).toEqual([
      ['P', 'modules', 'kt_prop'],
      ['U', 'watch', null],
      ['O', 'modules', 'kt_prop'],
    ]);
    expect(ev[1]).toMatchObject({ cause: null, actor: null });
    for (const e of ev) expect(e.since).toBe(changes[0].time);
    // Bits that only dropped: no evidence.
    b.deliver('poll', 0x1000, null);
    expect(changes[1].evidence).toEqual([]);
    await w.close();
  });

  it('a log whose reads fail (EIO): no evidence from it, the kmsg line still explains, nothing throws', async () => {
    const { b, w, changes } = await watch(0x200, { _kmsgPath: '/proc/self/mem', _sysModuleDir: modules({}) });
    expect(changes[0].evidence[0]).toMatchObject({ source: 'watch', cause: null });
    b.deliver('kmsg', 0x1200, 'kt_x: loading out-of-tree module taints kernel.');
    expect(changes[1].evidence[0]).toMatchObject({
      source: 'watch',
      cause: { kind: 'module', module: { name: 'kt_x' } },
    });
    await w.close();
  });

  it('a custom path without _kmsgPath never reads the running kernel log', async () => {
    const { w, changes } = await watch(0x200, { _sysModuleDir: modules({}) });
    expect(changes[0].evidence[0]).toMatchObject({ source: 'watch', cause: null, since: null });
    await w.close();
  });
});

// The kernel log is read once at watcher start: the initial report's evidence and the tail's
// position come from the same descriptor and the same read. The log is a FIFO, whose bytes can be
// read only once: a watcher that read it twice (once to explain, once to position its tail) would
// have lost, in the first read, the records its later changes need.

/**
 * A FIFO holding `text`, with a writer end kept open by this process (the reader never sees EOF);
 * `readers()` counts the other descriptors this process has open on it (the watcher's).
 */
function fifoLog(text: string): { path: string; write: (s: string) => void; readers: () => number; close: () => void } {
  const path = join(tmp, 'kmsg.fifo');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  const write = (t: string) => {
    const b = Buffer.from(t);
    expect(writeSync(fd, b)).toBe(b.length); // within the 64 KiB pipe buffer
  };
  write(text);
  return { path, write, readers: () => fdsOn(path) - 1, close: () => closeSync(fd) };
}

function start(initial: number, log: string, ignoreInitial = false) {
  return watch(initial, {
    ignoreInitial,
    _kmsgPath: log,
    _sysModuleDir: modules({ kt_prop: 'POE', kt_warn: 'OE' }),
  });
}

describe('the kernel log is read once at watcher start', () => {
  it('bits set before start are explained from the read that also keeps the records later changes need', async () => {
    // The 6.1 taint records between ordinary ones, then a soft lockup whose bit is not set yet.
    const real = readFileSync(fixture('bookworm-6.1.kmsg'), 'utf8').trimEnd().split('\n');
    const before = Array.from({ length: 300 }, (_, i) => `6,${i},${i},-;ordinary line ${i}`);
    const after = Array.from({ length: 300 }, (_, i) => `6,${i + 2000},${13_000_000 + i},-;ordinary line ${i}`);
    const lockup = '0,2400,14000000,-;watchdog: BUG: soft lockup - CPU#19 stuck for 22s! [jbd2/pmem0-8:1002]';
    const log = fifoLog(`${[...before, ...real.slice(4), ...after, lockup].join('\n')}\n`);
    try {
      const { b, w, changes } = await start(bits('P', 'W', 'O', 'E'), log.path);
      expect(changes[0].evidence.map((e) => [e.flag.letter, e.source, e.sinceBoot])).toEqual([
        ['P', 'kmsg', 11.003201],
        ['W', 'kmsg', 12.041456],
        ['O', 'kmsg', 11.002296],
        ['E', 'kmsg', 11.006399],
      ]);
      expect(log.readers()).toBe(1);
      // L is set now: its record was logged before the watcher started, after the ones the initial
      // report needed; the one read kept it.
      b.deliver('poll', bits('P', 'W', 'O', 'E', 'L'), null);
      expect(changes[1].evidence[0]).toMatchObject({
        source: 'kmsg',
        sinceBoot: 14,
        cause: { kind: 'soft-lockup' },
        actor: { tid: 1002, comm: 'jbd2/pmem0-8' },
      });
      // A later change reads on from there: the one new record.
      log.write('4,9000,20000000,-;Setting dangerous option foo - tainting kernel\n');
      b.deliver('uevent', bits('P', 'W', 'O', 'E', 'L', 'U'), null);
      expect(changes[2].evidence[0]).toMatchObject({ source: 'kmsg', sinceBoot: 20, cause: { kind: 'user-write' } });
      expect(log.readers()).toBe(1);
      await w.close();
      expect(log.readers()).toBe(0);
    } finally {
      log.close();
    }
  });

  it('a clean kernel at start: the ring is still read, once, to position the tail', async () => {
    const log = fifoLog(readFileSync(fixture('trixie-7x.kmsg'), 'utf8'));
    try {
      const { b, w, changes } = await start(0, log.path);
      expect(changes[0].evidence).toEqual([]);
      // The WARN is in the ring already: the change finds it in the records kept from that one read.
      b.deliver('kmsg', bits('W'), null);
      expect(changes[1].evidence[0]).toMatchObject({ source: 'kmsg', sinceBoot: 9.041456 });
      await w.close();
    } finally {
      log.close();
    }
  });

  it('ignoreInitial: the ring is read once at start, not by the first change', async () => {
    const log = fifoLog(readFileSync(fixture('trixie-7x.kmsg'), 'utf8'));
    try {
      const { b, w, changes } = await start(0, log.path, true);
      expect(changes).toEqual([]);
      expect(log.readers()).toBe(1);
      b.deliver('kmsg', bits('W'), null);
      expect(changes[0].evidence[0]).toMatchObject({ source: 'kmsg', sinceBoot: 9.041456 });
      b.deliver('uevent', bits('W', 'P'), null);
      expect(changes[1].evidence[0]).toMatchObject({ source: 'kmsg', cause: { module: { name: 'kt_prop' } } });
      await w.close();
    } finally {
      log.close();
    }
  });

  it("evidence is read after the 'change' is emitted: at its first access, else once the event loop turns", async () => {
    const log = fifoLog('6,1,1000000,-;ordinary line\n');
    try {
      const { b, w, changes } = await start(0, log.path, true);
      // Emitted before the log is read: a record logged after the emit still explains the change read later.
      b.deliver('uevent', bits('U'), null);
      expect(changes).toHaveLength(1);
      log.write('4,2,2000000,-;Setting dangerous option foo - tainting kernel\n');
      expect(changes[0].evidence[0]).toMatchObject({ source: 'kmsg', sinceBoot: 2, cause: { kind: 'user-write' } });
      expect(Object.isFrozen(changes[0].evidence)).toBe(true);
      expect(JSON.parse(JSON.stringify(changes[0])).evidence).toHaveLength(1);
      // Not read by a listener: it is read right after the emit's turn, not when first accessed much later.
      b.deliver('uevent', bits('U', 'W'), null);
      await new Promise((r) => setImmediate(r));
      log.write('4,3,3000000,-;WARNING: CPU: 0 PID: 1 at mm/slub.c:1 f+0x1/0x2\n');
      expect(changes[1].evidence[0]).toMatchObject({ source: 'watch', cause: null });
      // close() reads what is still unread while the log is open.
      b.deliver('uevent', bits('U', 'W', 'D'), null);
      await w.close();
      expect(changes[2].evidence[0].flag.letter).toBe('D');
      expect(log.readers()).toBe(0);
    } finally {
      log.close();
    }
  });
});
