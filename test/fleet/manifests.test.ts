// deploy/kubernetes validated offline: `kubectl --dry-run=client` needs an API
// server for discovery (it fails with "couldn't get current server API group
// list" without one), so the manifests are parsed and held to checks written
// here, and the DaemonSet's own command line is run against this CLI.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { parseTaintPolicy } from '../../lib/integrations/policy.js';
import { tempDir } from '../helpers/tmp.js';
import { CLI, freePort, ROOT, start, stopAll, waitFor } from './procs.js';

const DIR = join(ROOT, 'deploy', 'kubernetes');
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, checked field by field below
type Obj = Record<string, any>;

function load(file: string): Obj[] {
  const docs = parseAllDocuments(readFileSync(join(DIR, file), 'utf8'));
  for (const d of docs) expect(d.errors, file).toEqual([]);
  return docs.map((d) => d.toJS() as Obj).filter(Boolean);
}

const DNS1123 = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUANTITY = /^\d+(\.\d+)?(m|Ki|Mi|Gi|k|M|G)?$/;
const CONTAINER_KEYS = new Set([
  'name',
  'image',
  'imagePullPolicy',
  'command',
  'args',
  'env',
  'envFrom',
  'ports',
  'readinessProbe',
  'livenessProbe',
  'startupProbe',
  'resources',
  'securityContext',
  'volumeMounts',
  'workingDir',
]);
const POD_SPEC_KEYS = new Set([
  'automountServiceAccountToken',
  'enableServiceLinks',
  'tolerations',
  'securityContext',
  'containers',
  'volumes',
  'serviceAccountName',
  'priorityClassName',
  'nodeSelector',
  'hostPID',
  'hostNetwork',
]);

function matches(selector: Obj, labels: Obj): boolean {
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

afterAll(stopAll);

describe('deploy/kubernetes/daemonset.yaml', () => {
  const docs = load('daemonset.yaml');
  const byKind = (k: string) => docs.filter((d) => d.kind === k);
  const ds = byKind('DaemonSet')[0];
  const pod = ds?.spec?.template;
  const c = pod?.spec?.containers?.[0];

  it('holds a ConfigMap, a DaemonSet and a Service with valid names and api versions', () => {
    expect(docs.map((d) => `${d.apiVersion} ${d.kind}`)).toEqual(['v1 ConfigMap', 'apps/v1 DaemonSet', 'v1 Service']);
    for (const d of docs) {
      expect(d.metadata.name).toMatch(DNS1123);
      expect(d.metadata.name.length).toBeLessThanOrEqual(63);
      expect(d.metadata.namespace, 'namespace comes from kubectl -n').toBeUndefined();
    }
  });

  it('has a pod spec with known fields only, one container, selector matching the template', () => {
    expect(matches(ds.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    for (const k of Object.keys(pod.spec)) expect(POD_SPEC_KEYS.has(k), k).toBe(true);
    expect(pod.spec.containers).toHaveLength(1);
    for (const k of Object.keys(c)) expect(CONTAINER_KEYS.has(k), k).toBe(true);
    expect(c.name).toMatch(DNS1123);
  });

  it('runs non-root on a read-only root file system with no privileges', () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec.securityContext.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.securityContext.capabilities.add).toBeUndefined();
    expect(pod.spec.hostPID).toBeUndefined();
    expect(pod.spec.hostNetwork).toBeUndefined();
    for (const v of pod.spec.volumes) expect(v.hostPath, v.name).toBeUndefined();
    expect(pod.spec.automountServiceAccountToken).toBe(false);
  });

  it('has requests and limits, probes on /health and scrape annotations on the metrics port', () => {
    for (const kind of ['requests', 'limits']) {
      expect(c.resources[kind].cpu).toMatch(QUANTITY);
      expect(c.resources[kind].memory).toMatch(QUANTITY);
    }
    const port = c.ports.find((p: Obj) => p.name === 'metrics');
    expect(port).toMatchObject({ containerPort: 9523, protocol: 'TCP' });
    for (const probe of [c.readinessProbe, c.livenessProbe]) {
      expect(probe.httpGet).toEqual({ path: '/health', port: 'metrics' });
      expect(probe.timeoutSeconds).toBeLessThan(probe.periodSeconds);
    }
    expect(pod.metadata.annotations).toEqual({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': String(port.containerPort),
      'prometheus.io/path': '/metrics',
    });
    expect(c.args).toContain(`--port=${port.containerPort}`);
  });

  it('defines every $(VAR) its args use and mounts every volume it declares', () => {
    const env = new Set(c.env.map((e: Obj) => e.name));
    for (const a of c.args)
      for (const m of String(a).matchAll(/\$\(([A-Z_]+)\)/g)) expect(env.has(m[1]), m[1]).toBe(true);
    const volumes = new Set(pod.spec.volumes.map((v: Obj) => v.name));
    for (const m of c.volumeMounts) expect(volumes.has(m.name), m.name).toBe(true);
    const cm = pod.spec.volumes.find((v: Obj) => v.configMap)?.configMap.name;
    expect(byKind('ConfigMap').map((d) => d.metadata.name)).toContain(cm);
  });

  it('passes every category in the probe policy, so a tainted kernel does not restart the exporter', () => {
    const policy = parseTaintPolicy(JSON.parse(byKind('ConfigMap')[0].data['policy.json']));
    expect(Object.values(policy.categories ?? {})).toEqual(['pass', 'pass', 'pass', 'pass', 'pass']);
    const mount = c.volumeMounts.find((m: Obj) => m.name === 'config').mountPath;
    expect(c.args).toContain(`--policy=${mount}/policy.json`);
  });

  it('has a Service selecting the pods on the named metrics port', () => {
    const svc = byKind('Service')[0];
    expect(matches(svc.spec.selector, pod.metadata.labels)).toBe(true);
    expect(svc.spec.ports[0].targetPort).toBe('metrics');
  });

  it('has a PodMonitor selecting the pods and naming them by node', () => {
    const [pm] = load('podmonitor.yaml');
    expect(pm).toMatchObject({ apiVersion: 'monitoring.coreos.com/v1', kind: 'PodMonitor' });
    expect(matches(pm.spec.selector.matchLabels, pod.metadata.labels)).toBe(true);
    const ep = pm.spec.podMetricsEndpoints[0];
    expect(ep).toMatchObject({ port: 'metrics', path: '/metrics' });
    expect(ep.relabelings).toContainEqual({
      sourceLabels: ['__meta_kubernetes_pod_node_name'],
      targetLabel: 'instance',
    });
  });

  it('its command line works with this CLI: /health 200 on a tainted kernel, node name allowed, other hosts refused', async () => {
    const dir = tempDir('kernel-taint-fleet-', 'file');
    const taint = join(dir, 'tainted');
    writeFileSync(taint, '512\n'); // W: would fail a default policy
    writeFileSync(join(dir, 'policy.json'), byKind('ConfigMap')[0].data['policy.json']);
    const port = await freePort();
    const vars: Record<string, string> = { POD_IP: '127.0.0.1', NODE_NAME: 'worker-7', POD_NAMESPACE: 'monitoring' };
    const args = (c.args as string[]).map((a) =>
      a
        .replace(/\$\(([A-Z_]+)\)/g, (_, v) => vars[v])
        .replace(/^--port=\d+$/, `--port=${port}`)
        .replace(/^--policy=.*$/, `--policy=${join(dir, 'policy.json')}`),
    );
    const serve = start('kernel-taint serve (DaemonSet args)', process.execPath, [CLI, ...args, '--path', taint]);
    const get = (path: string, host: string) =>
      new Promise<number>((resolve, reject) => {
        import('node:http').then(({ request }) => {
          const req = request({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          });
          req.on('error', reject);
          req.end();
        }, reject);
      });
    await waitFor('serve listening', async () => ((await get('/health', `127.0.0.1:${port}`)) ? true : undefined), {
      procs: [serve],
    });
    expect(await get('/health', `127.0.0.1:${port}`)).toBe(200);
    expect(await get('/metrics', `worker-7:${port}`)).toBe(200);
    expect(await get('/metrics', `kernel-taint-exporter.monitoring.svc:${port}`)).toBe(200);
    expect(await get('/metrics', `evil.example:${port}`)).toBe(421);
  });
});
