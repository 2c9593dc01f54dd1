// End to end against the real engines (Debian's prometheus and
// prometheus-alertmanager): kernel-taint serve on a temp taint file, scraped
// every second by Prometheus with deploy/prometheus/kernel-taint.rules.yml,
// alerts sent to Alertmanager, which delivers them to a webhook in this test.
// Loopback only, ports picked at runtime, every process group killed and
// every temp dir removed in afterAll, whatever happened.

import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { tempDir } from '../helpers/tmp.js';
import { CLI, freePort, getJson, type Proc, ROOT, start, stop, stopAll, waitFor, which } from './procs.js';

const RULES = join(ROOT, 'deploy', 'prometheus', 'kernel-taint.rules.yml');
const PROMETHEUS = which('prometheus');
const ALERTMANAGER = which('prometheus-alertmanager') ?? which('alertmanager');

interface PromVector {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}
interface PromAlerts {
  data: { alerts: Array<{ labels: Record<string, string>; annotations: Record<string, string>; state: string }> };
}
interface Webhook {
  status: string;
  alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
}

describe('Prometheus + Alertmanager scraping kernel-taint serve', () => {
  let dir = '';
  let taint = '';
  let prom = '';
  let am = '';
  let procs: Proc[] = [];
  let hook: Server | undefined;
  const received: Webhook[] = [];
  let startServe: (bootId: string) => Proc = () => {
    throw new Error('not started');
  };
  const BOOT_A = '5a1c7c8e-0f6b-4b55-9d0e-3c2b7f1e9a01';
  const BOOT_B = 'c0ffee00-1111-4222-8333-444455556666';

  beforeAll(async () => {
    if (!PROMETHEUS || !ALERTMANAGER) {
      throw new Error(
        'prometheus and prometheus-alertmanager are needed (apt-get install prometheus prometheus-alertmanager; .ci/run installs them)',
      );
    }
    dir = tempDir('kernel-taint-fleet-', 'file');
    taint = join(dir, 'tainted');
    writeFileSync(taint, '0\n');
    const [servePort, promPort, amPort] = [await freePort(), await freePort(), await freePort()];
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => {
        body += d;
      });
      req.on('end', () => {
        try {
          received.push(JSON.parse(body) as Webhook);
        } catch {
          // not JSON: not from Alertmanager
        }
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook?.listen(0, '127.0.0.1', r));
    const hookPort = (hook.address() as { port: number }).port;

    writeFileSync(
      join(dir, 'alertmanager.yml'),
      [
        'route:',
        '  receiver: test',
        "  group_by: ['alertname', 'instance', 'flag']",
        '  group_wait: 0s',
        '  group_interval: 1s',
        '  repeat_interval: 1h',
        'receivers:',
        '  - name: test',
        '    webhook_configs:',
        `      - url: http://127.0.0.1:${hookPort}/alerts`,
        '        send_resolved: false',
        '',
      ].join('\n'),
    );
    // The shipped deploy/prometheus/prometheus.yml, pointed at the servers of this test, every 1 s.
    const config = parse(readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8'));
    config.global = { scrape_interval: '1s', evaluation_interval: '1s' };
    config.rule_files = [RULES];
    config.alerting.alertmanagers[0].static_configs[0].targets = [`127.0.0.1:${amPort}`];
    const job = config.scrape_configs.find((j: { job_name: string }) => j.job_name === 'kernel-taint');
    job.static_configs = [{ targets: [`127.0.0.1:${servePort}`] }];
    writeFileSync(join(dir, 'prometheus.yml'), stringify(config));
    startServe = (bootId: string) => {
      const file = join(dir, `boot_id-${bootId.slice(0, 8)}`);
      writeFileSync(file, `${bootId}\n`);
      return start(
        'kernel-taint serve',
        process.execPath,
        [CLI, 'serve', '--path', taint, '--port', String(servePort), '--profile', 'mainline'],
        { ...process.env, KERNEL_TAINT_BOOT_ID_PATH: file },
      );
    };
    const serve = startServe(BOOT_A);
    const alertmanager = start('alertmanager', ALERTMANAGER, [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'am')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    const prometheus = start('prometheus', PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ]);
    procs = [serve, alertmanager, prometheus];
    prom = `http://127.0.0.1:${promPort}`;
    am = `http://127.0.0.1:${amPort}`;
    const ready = async (url: string) => ((await fetch(url)).ok ? true : undefined);
    await waitFor('Prometheus ready', () => ready(`${prom}/-/ready`), { procs });
    await waitFor('Alertmanager ready', () => ready(`${am}/-/ready`), { procs });
  }, 60_000);

  afterAll(async () => {
    await stopAll();
    await new Promise<void>((r) => (hook ? hook.close(() => r()) : r()));
  });

  const query = async (q: string) =>
    (await getJson<PromVector>(`${prom}/api/v1/query?query=${encodeURIComponent(q)}`)).data.result;

  it('sees W become 1 and fires the new-flag and critical alerts through Alertmanager to a receiver', async () => {
    // The clean state first: W is scraped as 0 (so the counter has a sample before the change).
    await waitFor(
      'node_kernel_tainted{flag="W"} == 0 scraped',
      async () => ((await query('node_kernel_tainted{flag="W"} == 0')).length === 1 ? true : undefined),
      { procs },
    );
    await waitFor(
      'two scrapes of the change counter',
      async () =>
        (await query('count_over_time(node_kernel_taint_changes_total{flag="W"}[1m]) >= 2')).length ? true : undefined,
      { procs },
    );
    expect(await getJson<PromAlerts>(`${prom}/api/v1/alerts`)).toMatchObject({ data: { alerts: [] } });

    const t0 = performance.now();
    writeFileSync(taint, '512\n'); // W (WARN), stability: critical
    const gauge = await waitFor(
      'node_kernel_tainted{flag="W"} == 1',
      async () => {
        const r = await query('node_kernel_tainted{flag="W"}');
        return r.length === 1 && r[0].value[1] === '1' ? r[0] : undefined;
      },
      { procs },
    );
    const tGauge = performance.now() - t0;
    expect(gauge.metric).toMatchObject({ job: 'kernel-taint', bit: '9', name: 'WARN', category: 'stability' });

    const firing = await waitFor(
      'KernelTaintNewFlag and KernelTaintCritical firing in Prometheus',
      async () => {
        const alerts = (await getJson<PromAlerts>(`${prom}/api/v1/alerts`)).data.alerts.filter(
          (a) => a.state === 'firing',
        );
        const names = new Set(alerts.map((a) => a.labels.alertname));
        return names.has('KernelTaintNewFlag') && names.has('KernelTaintCritical') ? alerts : undefined;
      },
      { procs },
    );
    const tFiring = performance.now() - t0;
    const critical = firing.find((a) => a.labels.alertname === 'KernelTaintCritical');
    expect(critical?.labels).toMatchObject({ severity: 'critical', flag: 'W', name: 'WARN', category: 'stability' });
    expect(critical?.annotations.description).toMatch(/has kernel taint flag W \(WARN, bit 9, category stability\)/);
    const added = firing.find((a) => a.labels.alertname === 'KernelTaintNewFlag');
    expect(added?.labels).toMatchObject({ severity: 'info', flag: 'W' });
    // The description's query lists the flags set on that node now.
    expect(added?.annotations.description).toMatch(/Flags set now: W\./);
    // Nothing else: no warning (no integrity flag), no read failure.
    expect(firing.map((a) => a.labels.alertname).sort()).toEqual(['KernelTaintCritical', 'KernelTaintNewFlag']);

    // Alertmanager received them and delivered both to the receiver.
    await waitFor(
      'both alerts delivered by Alertmanager to the webhook',
      async () => {
        const got = new Set(
          received.flatMap((w) => w.alerts.filter((a) => a.status === 'firing')).map((a) => a.labels.alertname),
        );
        return got.has('KernelTaintNewFlag') && got.has('KernelTaintCritical') ? true : undefined;
      },
      { procs },
    );
    const tDelivered = performance.now() - t0;
    const amAlerts = await getJson<Array<{ labels: Record<string, string>; status: { state: string } }>>(
      `${am}/api/v2/alerts`,
    );
    expect(
      amAlerts
        .filter((a) => a.status.state === 'active')
        .map((a) => a.labels.alertname)
        .sort(),
    ).toEqual(['KernelTaintCritical', 'KernelTaintNewFlag']);
    // The figure BENCHMARKS.md records (scrape and evaluation every 1 s).
    console.log(
      `fleet e2e: write -> W=1 in Prometheus ${tGauge.toFixed(0)} ms, -> alerts firing ${tFiring.toFixed(0)} ms, -> delivered by Alertmanager ${tDelivered.toFixed(0)} ms`,
    );
  }, 60_000);
  it('rates flags by category unless the scrape config re-rated them (O: none in prometheus.yml)', async () => {
    writeFileSync(taint, `${512 | 4096 | 8192}\n`); // W, plus O (re-rated none) and E (integrity: warning)
    const warnings = await waitFor(
      'KernelTaintWarning firing for E',
      async () => {
        const alerts = (await getJson<PromAlerts>(`${prom}/api/v1/alerts`)).data.alerts;
        const w = alerts.filter((a) => a.labels.alertname === 'KernelTaintWarning' && a.state === 'firing');
        return w.length ? w : undefined;
      },
      { procs },
    );
    expect(warnings.map((a) => a.labels.flag)).toEqual(['E']);
    // O is set and carries the severity the scrape config gave it.
    const o = await query('instance_flag:node_kernel_tainted:severity{flag="O"}');
    expect(o.map((s) => s.metric.severity)).toEqual(['none']);
    const newFlags = (await getJson<PromAlerts>(`${prom}/api/v1/alerts`)).data.alerts
      .filter((a) => a.labels.alertname === 'KernelTaintNewFlag')
      .map((a) => a.labels.flag)
      .sort();
    expect(newFlags).toEqual(['E', 'O', 'W']);
  }, 60_000);
  it('sees a reboot: the exporter comes back with another boot id and KernelTaintBootChanged fires', async () => {
    const before = await query('node_kernel_boot_info');
    expect(before.map((r) => r.metric.boot_id)).toEqual([BOOT_A]);
    await stop(procs[0]);
    writeFileSync(taint, '0\n'); // a new boot starts untainted
    procs[0] = startServe(BOOT_B);
    const fired = await waitFor(
      'KernelTaintBootChanged firing',
      async () => {
        const alerts = (await getJson<PromAlerts>(`${prom}/api/v1/alerts`)).data.alerts;
        return alerts.find((a) => a.labels.alertname === 'KernelTaintBootChanged' && a.state === 'firing');
      },
      { procs },
    );
    expect(fired.labels).toMatchObject({ severity: 'info', job: 'kernel-taint' });
    expect(fired.annotations.description).toMatch(/reported 2 different boot ids in the last 30 minutes/);
    // Back at 0 after the reboot: the state alerts resolve.
    await waitFor(
      'KernelTaintCritical resolved',
      async () => {
        const alerts = (await getJson<PromAlerts>(`${prom}/api/v1/alerts`)).data.alerts;
        return alerts.some((a) => a.labels.alertname === 'KernelTaintCritical') ? undefined : true;
      },
      { procs },
    );
  }, 60_000);
});
