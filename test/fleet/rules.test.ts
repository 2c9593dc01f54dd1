// The Prometheus rules pass `promtool check rules` and their unit tests
// (`promtool test rules`), and those unit tests catch a broken rule.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { tempDir } from '../helpers/tmp.js';
import { ROOT, stopAll, which } from './procs.js';

const DIR = join(ROOT, 'deploy', 'prometheus');
const PROMTOOL = which('promtool');
const AMTOOL = which('amtool');

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
    const dir = tempDir('kernel-taint-fleet-', 'file');
    const rules = readFileSync(join(DIR, 'kernel-taint.rules.yml'), 'utf8');
    expect(rules).toContain(from);
    writeFileSync(join(dir, 'kernel-taint.rules.yml'), rules.replace(from, to));
    copyFileSync(join(DIR, 'kernel-taint.rules.test.yml'), join(dir, 'kernel-taint.rules.test.yml'));
    const r = promtool('test', 'rules', join(dir, 'kernel-taint.rules.test.yml'));
    expect(r.out).toContain('FAILED');
    expect(r.code).toBe(1);
  });
  it('give every alert a severity, a summary and a description naming the node (and the flag when per flag)', () => {
    const doc = parse(readFileSync(join(DIR, 'kernel-taint.rules.yml'), 'utf8'));
    const alerts = doc.groups
      .flatMap((g: { rules: Array<Record<string, never>> }) => g.rules)
      .filter((r: { alert?: string }) => r.alert);
    expect(alerts.map((a: { alert: string }) => a.alert)).toEqual([
      'KernelTaintNewFlag',
      'KernelTaintCritical',
      'KernelTaintWarning',
      'KernelTaintReadFailing',
      'KernelTaintBootChanged',
    ]);
    for (const a of alerts) {
      expect(['critical', 'warning', 'info']).toContain(a.labels.severity);
      for (const k of ['summary', 'description']) {
        expect(a.annotations[k], `${a.alert} ${k}`).toContain('$labels.node');
        expect(a.annotations[k], `${a.alert} ${k}`).toContain('$labels.instance');
        if (/Flag|Critical|Warning/.test(a.alert))
          expect(a.annotations[k], `${a.alert} ${k}`).toContain('$labels.flag');
      }
    }
  });
});

describe('deploy/prometheus example configs', () => {
  it('prometheus.yml passes promtool check config (with its rule file)', () => {
    const r = promtool('check', 'config', join(DIR, 'prometheus.yml'));
    expect(r.out).toContain('SUCCESS: 7 rules found');
    expect(r.code).toBe(0);
  });

  it('alertmanager.yml passes amtool check-config', () => {
    if (!AMTOOL) throw new Error('amtool is needed (apt-get install prometheus-alertmanager; .ci/run installs it)');
    const r = spawnSync(AMTOOL, ['check-config', join(DIR, 'alertmanager.yml')], { encoding: 'utf8', timeout: 60_000 });
    expect(`${r.stdout}${r.stderr}`).toContain('SUCCESS');
    expect(r.status).toBe(0);
  });

  it('scrape-kubernetes.yml keeps the exporter pods and names them by node', () => {
    // Debian's promtool is built without Kubernetes SD: check the relabelling as Prometheus applies it (anchored RE2).
    const [job] = parse(readFileSync(join(DIR, 'scrape-kubernetes.yml'), 'utf8')).scrape_configs;
    expect(job.kubernetes_sd_configs).toEqual([{ role: 'pod' }]);
    const relabel = (labels: Record<string, string>) => {
      const out = { ...labels };
      for (const r of job.relabel_configs) {
        const value = (r.source_labels as string[]).map((l) => out[l] ?? '').join(r.separator ?? ';');
        const m = new RegExp(`^(?:${r.regex ?? '(.*)'})$`).exec(value);
        if ((r.action ?? 'replace') === 'keep') {
          if (!m) return null;
          continue;
        }
        if (m)
          out[r.target_label] = (r.replacement ?? '$1').replace(
            /\$(\d)/g,
            (_: string, i: string) => m[Number(i)] ?? '',
          );
      }
      return out;
    };
    const pod = {
      __address__: '10.0.3.7:8080',
      __meta_kubernetes_pod_label_app_kubernetes_io_name: 'kernel-taint-exporter',
      __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'true',
      __meta_kubernetes_pod_annotation_prometheus_io_port: '9523',
      __meta_kubernetes_pod_node_name: 'worker-7',
    };
    expect(relabel(pod)).toMatchObject({ __address__: '10.0.3.7:9523', instance: 'worker-7', node: 'worker-7' });
    expect(relabel({ ...pod, __address__: '[fd00::7]' })).toMatchObject({ __address__: '[fd00::7]:9523' });
    expect(relabel({ ...pod, __meta_kubernetes_pod_label_app_kubernetes_io_name: 'other' })).toBeNull();
    expect(relabel({ ...pod, __meta_kubernetes_pod_annotation_prometheus_io_scrape: 'false' })).toBeNull();
  });
});
