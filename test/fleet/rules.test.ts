// The Prometheus rules pass `promtool check rules` and their unit tests
// (`promtool test rules`), and those unit tests catch a broken rule.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, stopAll, tempDir, which } from './procs.js';

const DIR = join(ROOT, 'deploy', 'prometheus');
const PROMTOOL = which('promtool');

function promtool(...args: string[]) {
  if (!PROMTOOL) throw new Error('promtool is needed (apt-get install prometheus; .ci/run installs it)');
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

afterAll(stopAll);

describe('deploy/prometheus rules', () => {
  it('pass promtool check rules (with the linter)', () => {
    const r = promtool('check', 'rules', '--lint=all', '--lint-fatal', join(DIR, 'kernel-taint.rules.yml'));
    expect(r.out).toContain('SUCCESS: 7 rules found');
    expect(r.code).toBe(0);
  });

  it('pass their promtool unit tests', () => {
    const r = promtool('test', 'rules', join(DIR, 'kernel-taint.rules.test.yml'));
    expect(r.out).toContain('SUCCESS');
    expect(r.code).toBe(0);
  });

  // Each mutation breaks one promise of the rules; the unit tests must notice.
  it.each([
    ['stability no longer critical', '"hardware|stability"', '"hardware"'],
    [
      'a severity label set at scrape time is ignored',
      '"severity", "warning", "severity", ""',
      '"severity", "warning", "severity", ".*"',
    ],
    [
      'informational flags alert',
      'category="informational"} == 1, "severity", "none"',
      'category="informational"} == 1, "severity", "warning"',
    ],
    [
      'new-flag alert never resolves',
      'increase(node_kernel_taint_changes_total[15m]) > 0',
      'node_kernel_taint_changes_total > 0',
    ],
    [
      'read failure alerts at once',
      'node_kernel_taint_last_read_ok == 0\n        for: 2m',
      'node_kernel_taint_last_read_ok == 0\n        for: 0m',
    ],
    [
      'boot change counts one boot id',
      'max_over_time(node_kernel_boot_info[30m])) > 1',
      'max_over_time(node_kernel_boot_info[30m])) > 0',
    ],
  ])('catch a broken rule: %s', (_what, from, to) => {
    const dir = tempDir();
    const rules = readFileSync(join(DIR, 'kernel-taint.rules.yml'), 'utf8');
    expect(rules).toContain(from);
    writeFileSync(join(dir, 'kernel-taint.rules.yml'), rules.replace(from, to));
    copyFileSync(join(DIR, 'kernel-taint.rules.test.yml'), join(dir, 'kernel-taint.rules.test.yml'));
    const r = promtool('test', 'rules', join(dir, 'kernel-taint.rules.test.yml'));
    expect(r.out).toContain('FAILED');
    expect(r.code).toBe(1);
  });
});
