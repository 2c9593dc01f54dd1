// The TypeScript half of the watcher against an injected fake binding: exact,
// timing-free checks of what it does with each native delivery and of the
// ref/unref aggregation. Runs on every platform.
import { describe, expect, it } from 'vitest';
import type { NativeSysError, NativeWatchCallback, NativeWatchOptions, NativeWatchStats } from '../../lib/binding.js';
import { AbortError, fromNative } from '../../lib/errors.js';
import { createWatcher, type TaintChange, type WatchBinding, type WatchReadyInfo } from '../../lib/watch.js';

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
    const unarmed = options.triggers.includes('kmsg')
      ? [{ trigger: 'kmsg' as const, errno: 1, syscall: 'open', path: '/dev/kmsg' }]
      : [];
    return { id, value: this.next, triggers: options.triggers.filter((t) => t !== 'kmsg'), unarmed };
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
  /** A delivery as the native side makes it: `reported` and the causes are decided there. */
  deliver(
    id: number,
    trigger: Parameters<NativeWatchCallback>[0],
    result: number | NativeSysError,
    reported = typeof result === 'number',
    kmsg: string | null = null,
  ) {
    this.callbacks.get(id)?.(
      trigger,
      result,
      reported,
      kmsg === null ? null : JSON.stringify({ kmsg: { line: kmsg } }),
    );
  }
}

const tick = () => new Promise((r) => process.nextTick(r));
const turn = () => new Promise((r) => setImmediate(r));

describe('TaintWatcher start on a file caught between truncate and write', () => {
  const empty: NativeSysError = { reason: 'empty', path: '/x' } as NativeSysError;

  it('reads again for a moment instead of throwing "is empty"', async () => {
    const b = new FakeBinding();
    let calls = 0;
    const add = b.watchAdd.bind(b);
    b.watchAdd = (o, cb) => (++calls <= 3 ? empty : add(o, cb));
    b.next = 512;
    const w = createWatcher({ path: '/x', profile: 'mainline' }, b);
    expect(calls).toBe(4);
    expect(w.current.value).toBe(512);
    await w.close();
  });

  it('still throws the coded error when the file stays empty', () => {
    const b = new FakeBinding();
    let calls = 0;
    b.watchAdd = () => {
      calls++;
      return empty;
    };
    const t0 = performance.now();
    expect(() => createWatcher({ path: '/x' }, b)).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', message: '/x is empty' }),
    );
    expect(calls).toBe(11);
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  it('does not retry other errors', () => {
    const b = new FakeBinding();
    let calls = 0;
    b.watchAdd = () => {
      calls++;
      return { errno: 2, syscall: 'open', path: '/x' };
    };
    expect(() => createWatcher({ path: '/x' }, b)).toThrow(expect.objectContaining({ code: 'ENOENT' }));
    expect(calls).toBe(1);
  });
});

describe("'ready' and the kernel symbol table", () => {
  /** A binding whose watchpoint armed while the symbol table is still being parsed for `polls` stats calls. */
  class ParsingBinding extends FakeBinding {
    polls: number;
    statsCalls = 0;
    constructor(polls: number) {
      super();
      this.polls = polls;
    }
    override watchAdd(options: NativeWatchOptions, callback: NativeWatchCallback) {
      const r = super.watchAdd(options, callback);
      return 'id' in r ? { ...r, triggers: [...r.triggers, 'watchpoint' as const] } : r;
    }
    watchStats() {
      this.statsCalls++;
      return { symbolsPending: this.statsCalls <= this.polls } as NativeWatchStats;
    }
  }

  it("waits for the parse before 'ready', so that the first change does not wait for it", async () => {
    const b = new ParsingBinding(3);
    const w = createWatcher({ path: '/x', ignoreInitial: true }, b);
    let ready = false;
    w.on('ready', () => {
      ready = true;
    });
    await tick();
    expect(ready).toBe(false);
    await new Promise((r) => setTimeout(r, 200));
    expect(ready).toBe(true);
    expect(b.statsCalls).toBeGreaterThanOrEqual(4);
    void w.close();
  });

  it("'ready' on the next turn of the event loop when the table is parsed, or without a watchpoint", async () => {
    for (const b of [new ParsingBinding(0), new FakeBinding()]) {
      const w = createWatcher({ path: '/x', ignoreInitial: true }, b);
      let ready = false;
      w.on('ready', () => {
        ready = true;
      });
      await tick();
      await tick();
      expect(ready).toBe(false); // after the start's warm-up had its turn (and V8 its GC task)
      await turn();
      await turn();
      expect(ready).toBe(true);
      void w.close();
    }
  });
});

describe('TaintWatcher (fake binding)', () => {
  it('passes resolved options to the binding', () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', interval: 250, _counterPaths: ['/c'] }, b);
    expect(b.added[0]).toEqual({
      path: '/x',
      triggers: ['inotify', 'uevent', 'kmsg', 'counter', 'poll'],
      interval: 250,
      mask: 0xffff_ffff,
      counterPaths: ['/c'],
    });
    expect(w.triggers).toEqual(['inotify', 'uevent', 'counter', 'poll']);
    void w.close();
  });

  it('emits the reported deliveries; an unreported one only updates the current value', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', ignoreInitial: true, filter: ['W', 31] }, b);
    expect(b.added[0].mask).toBe(((1 << 9) | (1 << 31)) >>> 0);
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    await tick();
    b.deliver(1, 'inotify', 512);
    b.deliver(1, 'poll', 513, false); // only P appeared: outside the filter
    expect(w.current.value).toBe(513);
    b.deliver(1, 'uevent', 0x8000_0201);
    b.deliver(1, 'kmsg', 0x201);
    expect(
      changes.map((c) => [c.seq, c.trigger, c.previous.value, c.current.value, c.added.map((f) => f.bit)]),
    ).toEqual([
      [1, 'inotify', 0, 512, [9]],
      [2, 'uevent', 513, 0x8000_0201, [31]],
      [3, 'kmsg', 0x8000_0201, 0x201, []],
    ]);
    await w.close();
  });

  it('carries the native kmsg cause on the change; null for the initial report and when none came', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x' }, b);
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    await tick();
    const line = 'WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2';
    b.deliver(1, 'poll', 0x200, true, line);
    b.deliver(1, 'inotify', 0x201);
    expect(changes.map((c) => [c.trigger, c.kmsg])).toEqual([
      ['initial', null],
      ['poll', line],
      ['inotify', null],
    ]);
    expect(Object.isFrozen(changes[1])).toBe(true);
    await w.close();
  });

  it("native errors become Node-style 'error' events", async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x' }, b);
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    b.deliver(1, 'poll', { errno: 13, syscall: 'open', path: '/x' });
    b.deliver(1, 'poll', { errno: 0, syscall: 'read', path: '/x', reason: 'range', content: '99999999999' });
    b.deliver(1, 'poll', { errno: 0, syscall: 'read', path: '/x', reason: 'long', content: '0'.repeat(32) });
    b.deliver(1, 'inotify', { errno: 0, syscall: 'open', path: '/x', reason: 'type', content: 'fifo' });
    expect(errors[0]).toMatchObject({ code: 'EACCES', errno: -13, syscall: 'open', path: '/x' });
    expect(errors[0].message).toBe("EACCES: permission denied, open '/x'");
    expect(errors[1]).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', content: '99999999999' });
    expect(errors[2]).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', path: '/x' });
    expect(errors[2].message).toContain('more than 32 bytes');
    expect(errors[3]).toMatchObject({ code: 'ERR_KERNEL_TAINT_NOT_A_FILE', path: '/x', fileType: 'fifo' });
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

  it('async iteration: an error ends the loop and closes the watcher (nothing left holding the process)', async () => {
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
    expect(w.closed).toBe(true);
    expect(b.removed).toEqual([1]);
    expect(b.refs).toBe(0);
  });

  it('async iteration: break closes the watcher', async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x' }, b);
    for await (const c of w) {
      expect(c.trigger).toBe('initial');
      break;
    }
    expect(w.closed).toBe(true);
    expect(b.removed).toEqual([1]);
    expect(b.refs).toBe(0);
  });

  it("'ready' names each requested trigger that could not be armed, with a string code and why", async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', triggers: ['kmsg', 'inotify'], interval: 1000 }, b);
    const [armed, info] = await new Promise<[unknown, WatchReadyInfo]>((r) => w.once('ready', (t, i) => r([t, i])));
    expect(armed).toEqual(['inotify']);
    expect(info.unarmed).toHaveLength(1);
    expect(info.unarmed[0]).toMatchObject({ trigger: 'kmsg', code: 'EPERM' });
    expect(info.unarmed[0].message).toBe("EPERM: operation not permitted, open '/dev/kmsg'");
    expect(info.unarmed[0].error).toMatchObject({ code: 'EPERM', syscall: 'open', path: '/dev/kmsg' });
    // interval asked for, but nothing periodic is armed: said, not silently dropped.
    expect(info.interval).toBe(0);
    expect(info.notes).toEqual(["interval 1000 ms has no effect: neither 'poll' nor 'counter' is armed"]);
    expect(w.readyInfo).toBe(info);
    await w.close();
  });

  it("'ready' says when only the counters run on the interval (no 'poll')", async () => {
    const b = new FakeBinding();
    const w = createWatcher({ path: '/x', triggers: ['counter', 'inotify'], interval: 200 }, b);
    expect(w.readyInfo.interval).toBe(200);
    expect(w.readyInfo.notes).toEqual(["every 200 ms only the warn/oops counters are checked ('poll' is not armed)"]);
    expect(w.readyInfo.unarmed).toEqual([]);
    await w.close();
  });

  it.each([
    [{ filter: [] }, /filter must name at least one flag/],
    [{ triggers: [] }, /triggers must name at least one/],
    [{ persistent: 'no' }, /persistent must be a boolean/],
    [{ ignoreInitial: 1 }, /ignoreInitial must be a boolean/],
    [{ interval: 1.5 }, /interval must be a whole number/],
    [{ interval: Number.NaN }, /interval must be a whole number/],
    [{ path: '/x\0y' }, /path must not contain a NUL byte/],
    [{ _counterPaths: ['/c\0'] }, /_counterPaths must not contain a NUL byte/],
  ])('rejects %o with ERR_KERNEL_TAINT_INVALID_ARG before touching the binding', (opts, message) => {
    const b = new FakeBinding();
    let err: unknown;
    try {
      createWatcher({ path: '/x', ...(opts as object) }, b);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' });
    expect((err as Error).message).toMatch(message);
    expect(b.added).toEqual([]);
  });

  it("an already aborted signal throws an AbortError whose code is the string 'ABORT_ERR'", () => {
    const b = new FakeBinding();
    const ac = new AbortController();
    ac.abort();
    let err: unknown;
    try {
      createWatcher({ path: '/x', signal: ac.signal }, b);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(AbortError);
    expect((err as AbortError).code).toBe('ABORT_ERR');
    expect((err as Error).name).toBe('AbortError');
    expect((err as Error).cause).toBe(ac.signal.reason);
    expect(b.added).toEqual([]);
  });
});

describe('fromNative: reasons of event sources', () => {
  it("'unavailable' (a source that cannot work here) is ERR_KERNEL_TAINT_UNSUPPORTED with the source's words", () => {
    const e = fromNative({
      errno: 0,
      syscall: '',
      path: '',
      reason: 'unavailable',
      content: 'watchpoint: needs CAP_SYS_ADMIN',
    });
    expect(e).toMatchObject({ code: 'ERR_KERNEL_TAINT_UNSUPPORTED', message: 'watchpoint: needs CAP_SYS_ADMIN' });
  });
});
