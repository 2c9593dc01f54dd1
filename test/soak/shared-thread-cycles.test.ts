// Soak: no fd or thread leaks over 10,000 watcher open/close cycles (about a
// minute on 2 cores; `npm run test:soak`, run by .ci/run).
import { describe, expect, it } from 'vitest';
import { isSupported, native } from '../../lib/binding.js';
import { watchTaint } from '../../lib/watch.js';
import { waitFor } from '../helpers/events.js';
import { fdCount, threadCount } from '../helpers/fs.js';
import { watcherFixture } from '../helpers/watchers.js';

const stats = () => native().watchStats();

const { track, taintFile } = watcherFixture('kt-soak-');

describe.skipIf(!isSupported())('shared watch thread under churn', () => {
  it('no fd or thread leaks over 10,000 open/close cycles', async () => {
    const path = taintFile('t');
    const fds0 = fdCount();
    const tasks0 = threadCount();
    const started0 = stats().threadsStarted;
    // Each cycle starts and joins the thread and opens every trigger's fds.
    for (let i = 0; i < 10_000; i++) {
      void watchTaint({ path, ignoreInitial: true }).close();
    }
    expect(stats().threadsStarted).toBe(started0 + 10_000);
    expect(fdCount()).toBe(fds0);
    await waitFor(() => threadCount() === tasks0, 5000, 'the task count to return');

    // With a long-lived watcher the thread stays; triggers are armed and disarmed.
    const keep = track(watchTaint({ path, triggers: ['poll'], interval: 1000 }));
    // The loop keeps its inotify instance once opened (closing one costs an SRCU grace period).
    void watchTaint({ path, triggers: ['inotify'] }).close();
    const fds1 = fdCount();
    for (let i = 0; i < 10_000; i++) {
      void watchTaint({ path, ignoreInitial: true }).close();
    }
    expect(fdCount()).toBe(fds1);
    expect(threadCount()).toBe(tasks0 + 1);
    expect(stats().threadsStarted).toBe(started0 + 10_001);
    expect(stats().watches).toBe(1);
    await keep.close();
    expect(fdCount()).toBe(fds0);
    await waitFor(() => threadCount() === tasks0, 5000, 'the task count to return');
  }, 120_000);
});
