// The node-problem-detector plugin contract of `kernel-taint check
// --format=npd`, run the way NPD runs deploy/node-problem-detector/
// kernel-taint-plugin-monitor.json (see npd-harness.ts): process group,
// timeout, 4 KiB pipes, trimmed stdout cut at 80 bytes, exit 0/1/other ->
// OK/NonOK/Unknown, and the KernelTainted condition NPD derives from it.

import { execFileSync } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import {
  goDuration,
  initialCondition,
  type NpdPluginConfig,
  type NpdRule,
  nextCondition,
  runNpdRule,
  validateNpdConfig,
} from './npd-harness.js';
import { CLI, ROOT, stopAll } from './procs.js';

const NPD_DIR = join(ROOT, 'deploy', 'node-problem-detector');
const config = JSON.parse(readFileSync(join(NPD_DIR, 'kernel-taint-plugin-monitor.json'), 'utf8')) as NpdPluginConfig;
const shipped = config.rules[0];

afterAll(stopAll);

/** The shipped rule with the binary at a temp wrapper and the policy and taint file of this test. */
function localRule(taintPath: string): NpdRule {
  const dir = tempDir('kernel-taint-fleet-', 'file');
  const bin = join(dir, 'kernel-taint');
  writeFileSync(bin, `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(bin, 0o755);
  const args = (shipped.args ?? []).map((a) =>
    a === '/config/kernel-taint-policy.json' ? join(NPD_DIR, 'kernel-taint-policy.json') : a,
  );
  return { ...shipped, path: bin, args: [...args, '--path', taintPath] };
}

function groupGone(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('NPD custom plugin: kernel-taint check --format=npd', () => {
  it('ships a config NPD accepts: custom plugin, permanent KernelTainted rule with a default, timeouts in bounds', () => {
    expect(validateNpdConfig(config, (p) => p === shipped.path)).toEqual([]);
    expect(shipped).toMatchObject({ type: 'permanent', condition: 'KernelTainted' });
    expect(shipped.args).toEqual(expect.arrayContaining(['check', '--format=npd', '--policy']));
    expect(config.pluginConfig?.max_output_length).toBe(80);
    // The harness's validator refuses what NPD refuses.
    expect(validateNpdConfig({ ...config, plugin: 'exec' }, () => true)).toHaveLength(1);
    expect(validateNpdConfig({ ...config, rules: [{ ...shipped, timeout: '1m' }] }, () => true)).toHaveLength(1);
    expect(validateNpdConfig({ ...config, conditions: [] }, () => true)).toHaveLength(1);
    expect(validateNpdConfig(config, () => false)).toHaveLength(1);
    expect(goDuration('1m30s')).toBe(90_000);
    expect(() => goDuration('5')).toThrow(/invalid duration/);
  });

  it('drives the KernelTainted condition through clean, tainted, more tainted, cleared and unreadable', async () => {
    const dir = tempDir('kernel-taint-fleet-', 'file');
    const taint = join(dir, 'tainted');
    const rule = localRule(taint);
    expect(validateNpdConfig({ ...config, rules: [rule] })).toEqual([]);
    let cond = initialCondition(config, 'KernelTainted');
    const step = async (value: string | null) => {
      if (value === null) rmSync(taint, { force: true });
      else writeFileSync(taint, value);
      const r = await runNpdRule(config, rule);
      expect(r.timedOut).toBe(false);
      expect(Buffer.byteLength(r.message)).toBeLessThanOrEqual(80);
      expect(r.message).not.toContain('\n');
      expect(groupGone(r.pgid)).toBe(true);
      cond = nextCondition(config, cond, rule, r);
      return r;
    };
    const clean = await step('0\n');
    expect(clean).toMatchObject({ status: 'OK', message: 'PASS: kernel not tainted' });
    expect(cond).toMatchObject({ status: 'False', reason: 'KernelTaintAcceptable' });

    const w = await step('512\n');
    expect(w).toMatchObject({ status: 'NonOK', message: 'FAIL: kernel tainted W (512): W WARN' });
    expect(w.stderr).toMatch(/^\[W\] WARN \(stability\) fail: /m);
    expect(cond).toEqual({
      type: 'KernelTainted',
      status: 'True',
      reason: 'KernelTaintedByPolicy',
      message: 'FAIL: kernel tainted W (512): W WARN',
    });

    // Still True; the message follows (enable_message_change_based_condition_update).
    await step(`${512 | 4096}\n`);
    expect(cond).toMatchObject({ status: 'True', message: 'FAIL: kernel tainted WO (4608): W WARN' });

    // Integrity only: the policy warns, the plugin says OK, the condition goes back to its default.
    const o = await step('4096\n');
    expect(o).toMatchObject({ status: 'OK', message: 'WARN: kernel tainted O (4096): O OOT_MODULE' });
    expect(cond).toMatchObject({ status: 'False', reason: 'KernelTaintAcceptable' });

    // Unreadable: Unknown, with the error code in the message NPD keeps.
    const gone = await step(null);
    expect(gone.status).toBe('Unknown');
    expect(gone.message).toMatch(/^UNKNOWN: ENOENT: /);
    expect(cond).toMatchObject({ status: 'Unknown', reason: 'KernelTaintAcceptable', message: gone.message });

    // Everything set: still one line of at most 80 bytes.
    const all = await step(`${0xffff_ffff}\n`);
    expect(all.status).toBe('NonOK');
    expect(Buffer.byteLength(all.message)).toBe(80);
  }, 60_000);

  it('answers well inside the rule timeout', async () => {
    const taint = join(tempDir('kernel-taint-fleet-', 'file'), 'tainted');
    writeFileSync(taint, '512\n');
    const rule = localRule(taint);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) times.push((await runNpdRule(config, rule)).ms);
    times.sort((a, b) => a - b);
    const median = times[2];
    console.log(
      `npd plugin: kernel-taint check --format=npd median ${median.toFixed(0)} ms (rule timeout ${shipped.timeout})`,
    );
    expect(median).toBeLessThan(goDuration(shipped.timeout ?? '5s') / 2);
  }, 60_000);

  it('a plugin that does not finish is killed with its process group at the timeout and reported Unknown', async () => {
    // A FIFO nobody writes to: opening it for reading blocks (or the reader
    // refuses it): either way NPD must end up with Unknown, in bounded time.
    const dir = tempDir('kernel-taint-fleet-', 'file');
    const fifo = join(dir, 'tainted');
    execFileSync('mkfifo', [fifo]);
    const rule = { ...localRule(fifo), timeout: '2s' };
    const r = await runNpdRule(config, rule);
    expect(r.status).toBe('Unknown');
    expect(r.ms).toBeLessThan(2000 + 2000);
    expect(Buffer.byteLength(r.message)).toBeLessThanOrEqual(80);
    if (r.timedOut) expect(r.message).toMatch(/^Timeout when running plugin "/);
    else expect(r.message).toMatch(/^UNKNOWN: /);
    expect(groupGone(r.pgid)).toBe(true);
  }, 30_000);
});
