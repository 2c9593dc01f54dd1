// The TypeScript half of the watcher against an injected fake binding: exact,
// timing-free checks of what it does with each native delivery and of the
// ref/unref aggregation. Runs on every platform.
import { describe, expect, it } from 'vitest';
import type { NativeSysError, NativeWatchCallback, NativeWatchOptions } from '../../lib/binding.js';
import { createWatcher, type TaintChange, type WatchBinding } from '../../lib/watch.js';

class FakeBinding implements WatchBinding {
  refs = 0;
  refCalls = 0;
  unrefCalls = 0;
  removed: number[] = [];
  added: NativeWatchOptions[] = [];
  callbacks = new Map<number, NativeWatchCallback>();
  next: number | NativeSysError = 0;
  #id = 0;

  watchAdd(options: NativeWatchOptions, callback: NativeWatchCallback) {
    if (typeof this.next !== 'number') return this.next;
    const id = ++this.#id;
    this.added.push(options);
    this.callbacks.set(id, callback);
    return { id, value: this.next, triggers: options.triggers.filter((t) => t !== 'kmsg') };
  }
  watchRemove(id: number) {
    this.removed.push(id);
    return this.callbacks.delete(id);
  }
  watchRef() {
    this.refs++;
    this.refCalls++;
  }
  watchUnref() {
    this.refs--;
    this.unrefCalls++;
  }
  deliver(
    id: number,
    trigger: Parameters<NativeWatchCallback>[0],
    result: number | NativeSysError,
    kmsg: string | null = null,
  ) {
    this.callbacks.get(id)?.(trigger, result, kmsg);
  }
}

const tick = () => new Promise((r) => process.nextTick(r));

describe('TaintWatcher (fake binding)', () => {
  it('passes resolved options to the binding', () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', interval: 250, _counterPaths: ['/c'] }, b);
    expect(b.added[0]).toEqual({
      path: '/x',
      triggers: ['inotify', 'uevent', 'kmsg', 'counter', 'poll'],
      interval: 250,
      counterPaths: ['/c'],
    });
    expect(w.triggers).toEqual(['inotify', 'uevent', 'counter', 'poll']);
    void w.close();
  });

  it('emits only real changes; coalesced deliveries of the same value are dropped', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', ignoreInitial: true }, b);
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    await tick();
    b.deliver(1, 'inotify', 512);
    b.deliver(1, 'poll', 512);
    b.deliver(1, 'uevent', 0x8000_0200);
    b.deliver(1, 'kmsg', 0x200);
    expect(
      changes.map((c) => [c.seq, c.trigger, c.previous.value, c.current.value, c.added.map((f) => f.bit)]),
    ).toEqual([
      [1, 'inotify', 0, 512, [9]],
      [2, 'uevent', 512, 0x8000_0200, [31]],
      [3, 'kmsg', 0x8000_0200, 0x200, []],
    ]);
    await w.close();
  });

  it('carries the native kmsg line on the change; null for the initial report and when none came', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x' }, b);
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    await tick();
    const line = 'WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2';
    b.deliver(1, 'poll', 0x200, line);
    b.deliver(1, 'inotify', 0x201);
    expect(changes.map((c) => [c.trigger, c.kmsg])).toEqual([
      ['initial', null],
      ['poll', line],
      ['inotify', null],
    ]);
    expect(Object.isFrozen(changes[1])).toBe(true);
    await w.close();
  });

  it('a line whose delivery emitted nothing (filtered, same value, error) goes with the next change', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', ignoreInitial: true, filter: ['W'] }, b);
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    w.on('error', () => {});
    await tick();
    b.deliver(1, 'kmsg', 0x1, 'first line'); // only P: outside the filter
    b.deliver(1, 'poll', 0x1); // same value
    b.deliver(1, 'poll', { errno: 2, syscall: 'open', path: '/x' });
    b.deliver(1, 'poll', 0x201);
    b.deliver(1, 'kmsg', 0x1, 'dropped W'); // a drop emits, with its line
    b.deliver(1, 'kmsg', 0x1, 'older');
    b.deliver(1, 'kmsg', 0x201, 'newest');
    expect(changes.map((c) => [c.current.value, c.kmsg])).toEqual([
      [0x201, 'first line'],
      [0x1, 'dropped W'],
      [0x201, 'newest'],
    ]);
    await w.close();
  });

  it("native errors become Node-style 'error' events", async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x' }, b);
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    b.deliver(1, 'poll', { errno: 13, syscall: 'open', path: '/x' });
    b.deliver(1, 'poll', { errno: 0, syscall: 'read', path: '/x', reason: 'range', content: '99999999999' });
    expect(errors[0]).toMatchObject({ code: 'EACCES', errno: -13, syscall: 'open', path: '/x' });
    expect(errors[0].message).toBe("EACCES: permission denied, open '/x'");
    expect(errors[1]).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', content: '99999999999' });
    await w.close();
  });

  it('the first open error is thrown by the factory', () => {
    const b = new FakeBinding();
    b.next = { errno: 2, syscall: 'open', path: '/nope' };
    expect(() => createWatcher({ path: '/nope' }, b)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(b.refCalls).toBe(0);
  });

  it('ref state is per watcher and aggregated: the binding is ref-ed while any open watcher is persistent', async () => {
    const b = new FakeBinding();
    const a = createWatcher({ path: '/a' }, b);
    const c = createWatcher({ path: '/c' }, b);
    const d = createWatcher({ path: '/d', persistent: false }, b);
    expect([b.refs, b.refCalls]).toEqual([1, 1]);
    a.unref();
    a.unref();
    expect(b.refs).toBe(1);
    c.unref();
    expect(b.refs).toBe(0);
    d.ref();
    expect(b.refs).toBe(1);
    await d.close();
    expect(b.refs).toBe(0);
    a.ref();
    await a.close();
    await c.close();
    expect([b.refs, b.refCalls, b.unrefCalls]).toEqual([0, 3, 3]);
    // ref() after close is a no-op.
    a.ref();
    expect(b.refs).toBe(0);
  });

  it('close() is idempotent, synchronous in effect, and returns the same promise', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', ignoreInitial: true }, b);
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    let closes = 0;
    w.on('close', () => closes++);
    const p1 = w.close();
    const p2 = w.close();
    expect(p1).toBe(p2);
    expect(b.removed).toEqual([1]);
    b.deliver(1, 'inotify', 512); // already unregistered: nothing
    await p1;
    expect(closes).toBe(1);
    expect(changes).toEqual([]);
  });

  it("close() before the first tick suppresses 'initial' and 'ready'", async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x' }, b);
    const seen: string[] = [];
    w.on('change', () => seen.push('change'));
    w.on('ready', () => seen.push('ready'));
    w.on('close', () => seen.push('close'));
    await w.close();
    expect(seen).toEqual(['close']);
  });

  it('abort closes the watcher and the listener is removed on close', async () => {
    const b = new FakeBinding();
    const ac = new AbortController();
    const w = createWatcher({ path: '/x', signal: ac.signal }, b);
    const closed = new Promise<void>((r) => w.once('close', () => r()));
    ac.abort();
    await closed;
    expect(w.closed).toBe(true);
    expect(b.removed).toEqual([1]);
    expect(b.refs).toBe(0);

    const ac2 = new AbortController();
    const w2 = createWatcher({ path: '/y', signal: ac2.signal }, b);
    await w2.close();
    ac2.abort(); // no second close, no throw
    expect(b.removed).toEqual([1, 2]);
  });

  it('async iteration rejects on error', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', ignoreInitial: true }, b);
    const it = w[Symbol.asyncIterator]();
    const first = it.next();
    b.deliver(1, 'poll', 4);
    expect(await first).toEqual({ value: expect.objectContaining({ seq: 1 }), done: false });
    const second = it.next();
    b.deliver(1, 'poll', { errno: 2, syscall: 'open', path: '/x' });
    await expect(second).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await it.next()).toEqual({ value: undefined, done: true });
    await w.close();
  });
});
