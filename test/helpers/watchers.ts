// Per-test temp taint files and watchers that are closed after each test,
// with a check that the shared watch thread exited: for the watch-thread
// lifecycle tests (test/lifecycle, test/soak).
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { TaintWatcher } from '../../lib/watch.js';
import { waitFor } from './events.js';
import { threadsNamed, WATCH_THREAD, writeValue } from './fs.js';
import { tempDir } from './tmp.js';

export function watcherFixture(prefix: string): {
  track: (w: TaintWatcher) => TaintWatcher;
  taintFile: (name: string, value?: number) => string;
} {
  let tmp: string;
  const open: TaintWatcher[] = [];
  beforeEach(() => {
    tmp = tempDir(prefix);
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((w) => w.close()));
    await waitFor(() => threadsNamed(WATCH_THREAD) === 0, 5000, 'the watch thread to exit');
  });
  return {
    track(w) {
      open.push(w);
      return w;
    },
    taintFile(name, value = 0) {
      const p = join(tmp, name);
      writeValue(p, value);
      return p;
    },
  };
}
