// One watch thread per environment, refcounted by its watchers; closing in all
// the awkward places. The 10,000-cycle leak test is in test/soak/.
import { describe, expect, it } from 'vitest';
import { isSupported, native } from '../../lib/binding.js';
import { type TaintChange, type TaintWatcher, watchTaint } from '../../lib/watch.js';
import { nextEvent, waitFor } from '../helpers/events.js';
import { threadsNamed, WATCH_THREAD, writeValue } from '../helpers/fs.js';
import { watcherFixture } from '../helpers/watchers.js';

const W = 1 << 9;
const stats = () => native().watchStats();

const { track, taintFile } = watcherFixture('kt-life-');

describe.skipIf(!isSupported())('shared watch thread', () => {
  it('many watchers share one thread and each sees its own changes; the last close joins it', async () => {
    expect(threadsNamed(WATCH_THREAD)).toBe(0);
    const started = stats().threadsStarted;
    const N = 200;
    const paths = Array.from({ length: N }, (_, i) => taintFile(`t${i}`));
    const shared = taintFile('shared');
    const seen = new Map<TaintWatcher, number>();
    const ws = [
      ...paths.map((path) => watchTaint({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true })),
      ...Array.from({ length: 20 }, () =>
        watchTaint({ path: shared, triggers: ['inotify', 'poll'], interval: 1000, ignoreInitial: true }),
      ),
    ].map(track);
    for (const w of ws) w.on('change', (c: TaintChange) => seen.set(w, c.current.value));
    await Promise.all(ws.map((w) => nextEvent(w, 'ready')));
    expect(threadsNamed(WATCH_THREAD)).toBe(1);
    expect(stats()).toMatchObject({ running: true, watches: N + 20, threadsStarted: started + 1 });

    paths.forEach((p, i) => {
      writeValue(p, i + 1);
    });
    writeValue(shared, W);
    await waitFor(() => seen.size === N + 20, 10_000, 'a change on every watcher');
    ws.slice(0, N).forEach((w, i) => {
      expect(seen.get(w)).toBe(i + 1);
    });
    for (const w of ws.slice(N)) expect(seen.get(w)).toBe(W);

    await Promise.all(ws.slice(0, -1).map((w) => w.close()));
    expect(threadsNamed(WATCH_THREAD)).toBe(1); // one watcher left
    await ws[ws.length - 1].close();
    expect(stats().running).toBe(false);
    await waitFor(() => threadsNamed(WATCH_THREAD) === 0, 5000, 'the watch thread to exit');
    expect(stats().threadsStarted).toBe(started + 1);
  });

  it('close() inside a change handler: of itself, of another watcher, of the last one', async () => {
    const path = taintFile('t');
    const a = track(watchTaint({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true }));
    const b = track(watchTaint({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true }));
    const c = track(watchTaint({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true }));
    await Promise.all([a, b, c].map((w) => nextEvent(w, 'ready')));
    const calls: string[] = [];
    // Delivery order within one batch is registration order: a closes b before b's turn.
    a.on('change', () => {
      calls.push('a');
      void a.close();
      void b.close();
    });
    b.on('change', () => calls.push('b'));
    c.on('change', () => {
      calls.push('c');
      // The last watcher: stops and joins the thread from inside its own delivery.
      void c.close();
    });
    writeValue(path, W);
    await waitFor(() => calls.length >= 2);
    await Promise.all([a.close(), b.close(), c.close()]);
    expect(calls).toEqual(['a', 'c']);
    expect(stats().running).toBe(false);
    // The thread can start again.
    const d = track(watchTaint({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true }));
    await nextEvent(d, 'ready');
    const next = nextEvent<[TaintChange]>(d, 'change');
    writeValue(path, 0);
    expect((await next)[0].current.value).toBe(0);
  });

  it('close() twice returns the same promise and nothing is delivered after close()', async () => {
    const path = taintFile('t');
    const w = track(watchTaint({ path, triggers: ['inotify', 'poll'], interval: 5, ignoreInitial: true }));
    await nextEvent(w, 'ready');
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    writeValue(path, W); // may be in flight when close() runs
    const p1 = w.close();
    expect(w.close()).toBe(p1);
    await p1;
    writeValue(path, 0);
    const reads = stats().reads;
    const other = track(watchTaint({ path, triggers: ['poll'], interval: 5, ignoreInitial: true }));
    await waitFor(() => stats().reads > reads + 3, 5000, 'a few polls of another watcher');
    await other.close();
    expect(changes).toEqual([]);
  });

  it('abort via signal closes the watcher and stops the thread', async () => {
    const ac = new AbortController();
    const w = track(watchTaint({ path: taintFile('t'), signal: ac.signal }));
    await nextEvent(w, 'ready');
    expect(stats().running).toBe(true);
    const closed = nextEvent(w, 'close');
    ac.abort();
    await closed;
    expect(w.closed).toBe(true);
    expect(stats().running).toBe(false);
  });
});
