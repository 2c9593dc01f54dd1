// The CLI report and watch show each set bit's evidence: since when, why, by whom,
// and say once what could not be seen. Fixture rings from real console logs.
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isSupported } from '../../lib/binding.js';
import { main } from '../../lib/cli/index.js';
import { waitFor } from '../helpers/events.js';
import { ROOT } from '../helpers/reference.js';
import { taintFile } from '../helpers/tmp.js';

const BIN = join(ROOT, 'bin/kernel-taint.cjs');
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/kmsg/${name}`, import.meta.url));

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1', TZ: 'UTC' },
    timeout: 15_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('kernel-taint report: evidence', () => {
  it('per set bit: since (local time, after boot), cause, log line, actor; what it could not see, once', () => {
    // P U W O E, the value of the 6.1 run; its ring explains all but U.
    const r = cli(['--path', taintFile('12865\n'), '--profile', 'mainline', '--kmsg', fixture('bookworm-6.1.kmsg')]);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    expect(r.out).toMatch(
      /\[W\] WARN {2}bit 9, stability\n.*\n {6}since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(12\.0 s after boot\)\n {6}cause: WARN at <scratch>\/bookworm\/modules-build\/kt_warn\.c:10\n {6}log: WARNING: CPU: 0 PID: 119 at .*\n {6}actor: insmod, tid 119 \(the task that happened to be running; from the kernel log\)\n/,
    );
    expect(r.out).toMatch(
      /\[O\] OOT_MODULE.*\n.*\n {6}since .* \(11\.0 s after boot\)\n {6}cause: module kt_prop: out of tree\n/,
    );
    expect(r.out).toMatch(/\[U\] USER.*\n.*\n {6}since: unknown\n {6}cause: unknown\n/);
    expect(r.out.match(/Not known: /g)).toHaveLength(1);
    expect(r.out).toContain('Not known: no log record or loaded module explains U.');
  });

  it('--json carries the explanation', () => {
    const r = cli([
      '--json',
      '--path',
      taintFile('512\n'),
      '--profile',
      'mainline',
      '--kmsg',
      fixture('trixie-7x.kmsg'),
    ]);
    expect(r.code).toBe(1);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ value: 512, letters: 'W' });
    expect(j.explanation.limits).toEqual([]);
    expect(j.explanation.bits).toHaveLength(1);
    expect(j.explanation.bits[0]).toMatchObject({
      flag: { letter: 'W' },
      sinceBoot: 9.041456,
      source: 'kmsg',
      cause: { kind: 'warning', site: 'arch/x86/kernel/cpu/bugs.c:3736' },
      actor: { kind: 'incidental', pid: null, tid: 728, comm: '(udev-worker)', via: 'kmsg' },
    });
    expect(j.explanation.bits[0].since).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  });

  it('--path without --kmsg reads no log and says so', () => {
    const r = cli(['--path', taintFile('512\n'), '--profile', 'mainline']);
    expect(r.out).toContain('Not known: kernel log not read: --path names another taint file (add --kmsg)');
    const clean = cli(['--path', taintFile('0\n')]);
    expect(clean.out).not.toContain('Not known');
  });

  it('an unreadable log is a limit, not an error', () => {
    const r = cli(['--path', taintFile('512\n'), '--kmsg', '/nonexistent/kmsg']);
    expect(r.code).toBe(1);
    expect(r.err).toBe('');
    expect(r.out).toContain('kernel log not available: /nonexistent/kmsg does not exist');
  });
});

describe.skipIf(!isSupported())('kernel-taint watch: evidence', () => {
  it('prints cause and actor under the initial report and each change (--kmsg names the log)', async () => {
    const path = taintFile('512\n');
    const out: string[] = [];
    const err: string[] = [];
    const ac = new AbortController();
    const run = main(
      ['watch', '--path', path, '--profile', 'mainline', '--interval', '50', '--kmsg', fixture('trixie-7x.kmsg')],
      {
        out: (s) => out.push(s),
        err: (s) => err.push(s),
        isTTY: false,
        env: { KERNEL_TAINT_ATTRIBUTION: 'off' },
        stdin: async () => '',
        signal: ac.signal,
      },
    );
    try {
      await waitFor(() => out.length > 0, 5000, 'initial line');
      expect(out[0]).toMatch(
        /initial: Tainted: \[W\]=WARN\n {2}W: WARN at arch\/x86\/kernel\/cpu\/bugs\.c:3736; actor \(udev-worker\), tid 728 \(the task that happened to be running; from the kernel log\)$/,
      );
      writeFileSync(path, `${0x1201}\n`); // + P O
      await waitFor(() => out.length > 1, 5000, 'change line');
      expect(out[1]).toMatch(/\+PO \(PROPRIETARY_MODULE, OOT_MODULE\) via (inotify|poll): .*\n {2}P: module kt_prop/);
      expect(out[1]).toMatch(
        /\n {2}P: module kt_prop.*licence 'Proprietary'; actor tid 112 \(the process that caused it; from the kernel log\)/,
      );
      expect(out[1]).toMatch(/\n {2}O: module kt_prop.*out of tree; actor tid 112 /);
    } finally {
      ac.abort();
    }
    expect(await run).toBe(0);
    expect(err.join('\n')).not.toMatch(/error|at .*\.ts:/i);
  });
});
