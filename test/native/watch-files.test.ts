// The watcher against real file events on temp files (#12): a watched file
// deleted and re-created, replaced by rename, rewritten with truncate + write
// (`echo N > F`), and what 'ready' says about triggers it could not arm. All
// with `interval: 0` (no poll backstop), so only the fix can make them pass.
import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSupported, native } from '../../lib/binding.js';
import {
  type TaintChange,
  type TaintWatcher,
  type WatchReadyInfo,
  type WatchTaintOptions,
  watchTaint,
} from '../../lib/watch.js';
import { cleanupArtifacts, script } from '../helpers/bundle.js';
import { nextEvent, settle, waitFor } from '../helpers/events.js';
import { isRoot } from '../helpers/features.js';
import { writeValue } from '../helpers/fs.js';
import { tempDir } from '../helpers/tmp.js';

const W = 1 << 9;
const O = 1 << 12;

const watchers: TaintWatcher[] = [];
let tmp: string;
const artifacts: string[] = [];
afterAll(() => cleanupArtifacts(artifacts));

beforeEach(() => {
  tmp = tempDir('kt-native-');
});

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

async function watching(
  value: number,
  opts: WatchTaintOptions = {},
): Promise<{ w: TaintWatcher; path: string; changes: TaintChange[]; errors: (Error & { code?: string })[] }> {
  const path = join(tmp, 'tainted');
  writeValue(path, value);
  const w = watchTaint({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true, ...opts });
  watchers.push(w);
  const changes: TaintChange[] = [];
  const errors: (Error & { code?: string })[] = [];
  w.on('change', (c) => changes.push(c));
  w.on('error', (e) => errors.push(e));
  await nextEvent(w, 'ready');
  return { w, path, changes, errors };
}

describe.skipIf(!isSupported())('watcher and replaced files (inotify only, no poll)', () => {
  it('re-arms when the file is deleted and re-created: the new value is reported at once', async () => {
    const { path, changes, errors } = await watching(0);
    unlinkSync(path);
    await waitFor(() => errors.length === 1, 5000, 'the ENOENT error');
    expect(errors[0]).toMatchObject({ code: 'ENOENT', syscall: 'open', path });
    writeFileSync(path, `${W}\n`); // create, then write: as `echo 512 > F`
    await waitFor(() => changes.length === 1, 5000, 'the change on the re-created file');
    expect(changes[0]).toMatchObject({ trigger: 'inotify' });
    expect(changes[0].current.value).toBe(W);
    // And it follows the new file: a later write in place is seen too.
    writeValue(path, W | O);
    await waitFor(() => changes.length === 2, 5000, 'a write to the new file');
    expect(changes[1].current.value).toBe(W | O);
    expect(errors).toHaveLength(1);
  });

  it('re-arms when the file is replaced by rename, even while the old inode keeps a link', async () => {
    const { path, changes, errors } = await watching(0);
    linkSync(path, `${path}.old`); // the old file stays alive: its link count never reaches 0
    writeFileSync(`${path}.new`, `${W}\n`);
    renameSync(`${path}.new`, path);
    await waitFor(() => changes.length === 1, 5000, 'the change on the replacement');
    expect(changes[0].current.value).toBe(W);
    writeValue(`${path}.old`, O); // the old inode no longer counts
    writeValue(path, W | O);
    await waitFor(() => changes.length === 2, 5000, 'a write to the replacement');
    expect(changes[1].current.value).toBe(W | O);
    await settle(50);
    expect(changes).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('re-arms when the directory entry comes back after a missing-file error (several cycles)', async () => {
    const { path, changes, errors } = await watching(0);
    for (let i = 1; i <= 3; i++) {
      rmSync(path);
      await waitFor(() => errors.length === i, 5000, `ENOENT #${i}`);
      writeValue(path, i % 2 === 1 ? W : 0);
      await waitFor(() => changes.length === i, 5000, `change #${i}`);
    }
    expect(changes.map((c) => c.current.value)).toEqual([W, 0, W]);
  });

  it("a read caught between truncate and write is not an 'error': 200 rewrites, no 'is empty'", async () => {
    const { path, changes, errors } = await watching(0);
    let value = 0;
    // The longest open(O_TRUNC)→write gap of this process. On a loaded machine
    // the writer itself can be descheduled for longer than the watcher's re-read
    // delay (50 ms); then the file really was empty that long and an error is right.
    let longestGapMs = 0;
    for (let i = 0; i < 200; i++) {
      value = value === W ? O : W;
      const t = performance.now();
      writeFileSync(path, `${value}\n`); // O_TRUNC, then write
      longestGapMs = Math.max(longestGapMs, performance.now() - t);
      if (i % 20 === 0) await settle(2);
    }
    await waitFor(() => changes.at(-1)?.current.value === value, 5000, 'the last value');
    await settle(120); // past the re-read delay of any held-back empty read
    if (longestGapMs < 40) expect(errors).toEqual([]);
    else console.warn(`writer stalled ${longestGapMs.toFixed(1)} ms in one rewrite: an 'is empty' error may be right`);
    for (const e of errors) expect(e.message).toBe(`${path} is empty`);
  });

  it('a file that stays empty is still reported, once, after the short re-read delay', async () => {
    const { path, errors } = await watching(W);
    const t0 = Date.now();
    writeFileSync(path, '');
    await waitFor(() => errors.length === 1, 5000, 'the empty error');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(40);
    expect(errors[0]).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', path });
    expect(errors[0].message).toBe(`${path} is empty`);
    expect(native().watchStats().deferredEmpty).toBeGreaterThan(0);
    await settle(120);
    expect(errors).toHaveLength(1);
  });

  it('a value over 32 bytes (leading zeros) is an error, not 0', async () => {
    const { path, changes, errors } = await watching(W);
    writeFileSync(path, `${'0'.repeat(40)}512\n`);
    await waitFor(() => errors.length === 1, 5000, 'the error');
    expect(errors[0]).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', path });
    expect(errors[0].message).toContain('more than 32 bytes');
    expect(changes).toEqual([]);
  });
});

describe.skipIf(!isSupported())("'ready' names triggers that could not be armed", () => {
  it('poll with interval 0 and missing counter files, each with a string code', async () => {
    const path = join(tmp, 'tainted');
    writeValue(path, 0);
    const w = watchTaint({
      path,
      triggers: ['inotify', 'poll', 'counter'],
      interval: 0,
      _counterPaths: [join(tmp, 'no_such_count')],
    });
    watchers.push(w);
    const [armed, info] = await nextEvent(w, 'ready');
    expect(armed).toEqual(['inotify']);
    expect(info).toMatchObject({ interval: 0 });
    const byTrigger = Object.fromEntries((info as WatchReadyInfo).unarmed.map((u) => [u.trigger, u]));
    expect(byTrigger.counter).toMatchObject({ code: 'ENOENT', error: { syscall: 'open' } });
    expect(byTrigger.poll).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' });
    expect(byTrigger.poll.message).toContain('interval is 0');
  });

  it.runIf(isRoot)('kmsg unreadable for an unprivileged user: named with EPERM or EACCES', async () => {
    const path = join(tmp, 'tainted');
    writeValue(path, 0);
    chmodSync(tmp, 0o755);
    chmodSync(path, 0o644);
    // The library from a world-readable temp package: the checkout may sit in a 0700 directory.
    const file = await script(
      'kmsg-unprivileged',
      `const w=kt.watchTaint({path:${JSON.stringify(path)},triggers:['kmsg','inotify'],interval:0,ignoreInitial:true});
      w.on('ready',(t,i)=>{console.log(JSON.stringify({t,u:i.unarmed.map((u)=>[u.trigger,u.code])}));w.close()});`,
    );
    artifacts.push(file);
    const r = spawnSync(process.execPath, [file], {
      uid: 65534,
      gid: 65534,
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(r.stderr).toBe('');
    const out = JSON.parse(r.stdout) as { t: string[]; u: [string, string][] };
    if (out.t.includes('kmsg')) return; // dmesg_restrict=0 here: kmsg is readable by anyone
    expect(out.t).toEqual(['inotify']);
    expect(out.u).toHaveLength(1);
    expect(out.u[0][0]).toBe('kmsg');
    expect(['EPERM', 'EACCES']).toContain(out.u[0][1]);
  });
});
