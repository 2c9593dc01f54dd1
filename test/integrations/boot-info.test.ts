// node_kernel_boot_info{boot_id}: what KernelTaintBootChanged
// (deploy/prometheus/kernel-taint.rules.yml) compares across scrapes, from the
// text families, the sidecar and prom-client.
import client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { readBootId } from '../../lib/boot-id.js';
import { collectTaintMetrics, formatPrometheus, taintMetricFamilies } from '../../lib/integrations/metrics.js';
import { serveTaint } from '../../lib/integrations/serve.js';
import { taintFile } from '../helpers/tmp.js';
import { mainline } from './helpers.js';

const ID = '5a1c7c8e-0f6b-4b55-9d0e-3c2b7f1e9a01';

describe('node_kernel_boot_info', () => {
  it('is one sample labelled with the boot id, none without one', () => {
    const text = formatPrometheus(taintMetricFamilies(mainline(0), new Map(), { bootId: ID }));
    expect(text).toContain('# TYPE node_kernel_boot_info gauge');
    expect(text).toContain(`node_kernel_boot_info{boot_id="${ID}"} 1`);
    for (const bootId of [null, undefined, '']) {
      const none = formatPrometheus(taintMetricFamilies(mainline(0), new Map(), { bootId }));
      expect(none).not.toMatch(/^node_kernel_boot_info\{/m);
    }
    // A hostile id stays one well-formed sample.
    const odd = formatPrometheus(taintMetricFamilies(null, new Map(), { bootId: 'a"b\\c\nd', prefix: 'app_' }));
    expect(odd).toContain('app_kernel_boot_info{boot_id="a\\"b\\\\c\\nd"} 1');
  });

  it('is served by the sidecar from bootIdPath (or the real boot id)', async () => {
    const srv = await serveTaint({
      port: 0,
      path: taintFile('512'),
      bootIdPath: taintFile(`${ID}\n`, 'boot_id'),
      readModules: () => [],
    });
    try {
      const text = await (await fetch(`${srv.url}/metrics`)).text();
      expect(text).toContain(`node_kernel_boot_info{boot_id="${ID}"} 1`);
    } finally {
      await srv.close();
    }
    const real = readBootId();
    const srv2 = await serveTaint({ port: 0, path: taintFile('0'), readModules: () => [] });
    try {
      const text = await (await fetch(`${srv2.url}/metrics`)).text();
      if (real) expect(text).toContain(`node_kernel_boot_info{boot_id="${real}"} 1`);
      else expect(text).not.toMatch(/^node_kernel_boot_info\{/m);
    } finally {
      await srv2.close();
    }
  });

  it('is registered by collectTaintMetrics', async () => {
    const registry = new client.Registry();
    const handle = collectTaintMetrics(registry, {
      client,
      path: taintFile('0'),
      profile: 'mainline',
      bootIdPath: taintFile(ID, 'boot_id'),
    });
    expect(await registry.metrics()).toContain(`node_kernel_boot_info{boot_id="${ID}"} 1`);
    handle.close();
    const none = new client.Registry();
    collectTaintMetrics(none, { client, path: taintFile('0'), bootIdPath: '/nonexistent/boot_id' });
    expect(await none.metrics()).not.toMatch(/^node_kernel_boot_info\{/m);
  });
});
