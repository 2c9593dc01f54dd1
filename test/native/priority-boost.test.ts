// The watch thread raises its own priority (nice) by KERNEL_TAINT_PRIORITY_BOOST (default 4, like
// auditd's priority_boost) where the process may (CAP_SYS_NICE), so that a write wakes it before the
// writer's time slice ends. Each case runs in a fresh process (the variable is read when the thread
// starts) and reads the thread's nice from /proc/self/task/<tid>/stat.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSupported } from '../../lib/binding.js';
import { isRoot } from '../helpers/features.js';
import { ROOT } from '../helpers/reference.js';
import { tempDir } from '../helpers/tmp.js';

const ADDON = join(ROOT, 'build/Release/kernel_taint.node');

// Starts a watch thread on a temp file, then prints the boost it reports and the nice of every thread.
const CHILD = `
const fs = require('node:fs');
const a = require(${JSON.stringify(ADDON)});
const file = process.argv[1];
fs.writeFileSync(file, '0\\n');
const r = a.watchAdd({ path: file, triggers: ['inotify'], interval: 0 }, () => {});
const nice = (t) => Number(fs.readFileSync('/proc/self/task/' + t + '/stat', 'utf8').split(') ')[1].split(' ')[16]);
const comm = (t) => fs.readFileSync('/proc/self/task/' + t + '/comm', 'utf8').trim();
setTimeout(() => {
  const tasks = fs.readdirSync('/proc/self/task');
  const watch = tasks.filter((t) => comm(t) === 'kernel-taint').map(nice);
  console.log(JSON.stringify({ boost: a.watchStats().priorityBoost, watch, main: nice(String(process.pid)) }));
  a.watchRemove(r.id);
}, 200);
`;

function run(env: Record<string, string | undefined>, niceBy = 0) {
  const file = join(tempDir('kt-boost-'), 'tainted');
  const args = ['-e', CHILD, file];
  const cmd = niceBy > 0 ? 'nice' : process.execPath;
  const r = spawnSync(cmd, niceBy > 0 ? ['-n', String(niceBy), process.execPath, ...args] : args, {
    encoding: 'utf8',
    env: { ...process.env, ...env },
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim()) as { boost: number; watch: number[]; main: number };
}

describe.skipIf(!isSupported())('the watch thread priority boost', () => {
  it(
    isRoot ? 'raises the thread 4 above its creator by default' : 'keeps the creator priority without CAP_SYS_NICE',
    () => {
      const got = run({ KERNEL_TAINT_PRIORITY_BOOST: undefined }, 5);
      expect(got.watch).toHaveLength(1);
      expect(got.main).toBe(5);
      if (isRoot) {
        expect(got).toEqual({ boost: 4, watch: [1], main: 5 });
      } else {
        expect(got).toEqual({ boost: 0, watch: [5], main: 5 });
      }
    },
  );

  it('takes another amount from KERNEL_TAINT_PRIORITY_BOOST, 0 for none, and ignores a bad value', () => {
    const none = run({ KERNEL_TAINT_PRIORITY_BOOST: '0' });
    expect(none).toEqual({ boost: 0, watch: [none.main], main: none.main });
    const bad = run({ KERNEL_TAINT_PRIORITY_BOOST: '-3' }, 5);
    expect(bad.boost).toBe(isRoot ? 4 : 0); // out of range: the default
    if (isRoot) {
      expect(run({ KERNEL_TAINT_PRIORITY_BOOST: '2' }, 5)).toEqual({ boost: 2, watch: [3], main: 5 });
      expect(run({ KERNEL_TAINT_PRIORITY_BOOST: '10' }, 5)).toEqual({ boost: 10, watch: [-5], main: 5 });
    }
  });
});
