import { appendFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { NativeWatchCallback, NativeWatchOptions } from '../../lib/binding.js';
import { createWatcher, type TaintChange, type WatchBinding } from '../../lib/watch.js';
import { tempDir } from '../helpers/fs.js';
import { moduleTree } from '../helpers/modules.js';

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
    this.callback?.(trigger, value, true, line === null ? null : { kmsg: { line } });
  }
  watchRemove() {
    return true;
  }
  watchRef() {}
  watchUnref() {}
}

const tick = () => new Promise((r) => process.nextTick(r));
let tmp: ReturnType<typeof tempDir>;
beforeEach(() => {
  tmp = tempDir('kt-wev-');
});
afterEach(() => tmp.cleanup());

const modules = (entries: Record<string, string>) => moduleTree(tmp.dir, entries);

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
    const log = join(tmp.dir, 'kmsg');
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

  it('a custom path without _kmsgPath never reads the running kernel log', async () => {
    const { w, changes } = await watch(0x200, { _sysModuleDir: modules({}) });
    expect(changes[0].evidence[0]).toMatchObject({ source: 'watch', cause: null, since: null });
    await w.close();
  });
});
