import { writeFileSync } from 'node:fs';
import { metrics as otelMetrics } from '@opentelemetry/api';
import * as client from 'prom-client';
import { describe, expect, it } from 'vitest';
import { KernelTaintError } from '../../lib/errors.js';
import {
  collectTaintMetrics,
  formatPrometheus,
  TaintChangeCounter,
  taintMetricFamilies,
  taintMetricNames,
} from '../../lib/integrations/metrics.js';
import {
  type OtelBatchResultLike,
  type OtelMeterLike,
  type OtelObservableLike,
  observeTaintMetrics,
} from '../../lib/integrations/otel.js';
import { taintFile } from '../helpers/tmp.js';
import { FakeSource, mainline } from './helpers.js';

const W = 1 << 9;
const O = 1 << 12;
const P = 1 << 0;

describe('Prometheus text', () => {
  it('one node_kernel_tainted series per known bit with bit, flag, name, category labels', () => {
    const text = formatPrometheus(taintMetricFamilies(mainline(P | O)));
    const lines = text.split('\n');
    expect(lines).toContain('# TYPE node_kernel_tainted gauge');
    expect(lines).toContain('node_kernel_tainted{bit="0",flag="P",name="PROPRIETARY_MODULE",category="integrity"} 1');
    expect(lines).toContain('node_kernel_tainted{bit="9",flag="W",name="WARN",category="stability"} 0');
    expect(lines).toContain('node_kernel_tainted{bit="12",flag="O",name="OOT_MODULE",category="integrity"} 1');
    expect(lines.filter((l) => l.startsWith('node_kernel_tainted{'))).toHaveLength(20);
    expect(lines).toContain('# TYPE node_kernel_tainted_value gauge');
    expect(lines).toContain('node_kernel_tainted_value 4097');
    expect(lines).toContain('# TYPE node_kernel_taint_changes_total counter');
    expect(lines).toContain('node_kernel_taint_changes_total{flag="W"} 0');
  });

  it('adds a series for a set bit the profile does not define; no per-bit series without a state', () => {
    const text = formatPrometheus(taintMetricFamilies(mainline(1 << 31)));
    expect(text).toContain('node_kernel_tainted{bit="31",flag="?",name="bit 31",category="unknown"} 1');
    expect(text).toContain('node_kernel_tainted_value 2147483648');
    const none = formatPrometheus(taintMetricFamilies(null));
    expect(none).not.toMatch(/^node_kernel_tainted[{ ]/m);
    expect(none).toContain('node_kernel_taint_changes_total{flag="P"} 0');
  });

  it('escapes label values and takes a prefix', () => {
    const text = formatPrometheus([
      {
        name: 'x',
        help: 'a\\b\nc',
        type: 'gauge',
        labelNames: ['l'],
        samples: [{ labels: { l: 'q"\\\n' }, value: 1 }],
      },
    ]);
    expect(text).toBe('# HELP x a\\\\b\\nc\n# TYPE x gauge\nx{l="q\\"\\\\\\n"} 1\n');
    expect(taintMetricNames('app_').tainted).toBe('app_kernel_tainted');
    expect(() => taintMetricNames('bad-prefix')).toThrow(KernelTaintError);
  });

  it('counts flags going from clear to set, from events or from observations', () => {
    const source = new FakeSource(0);
    const fromEvents = new TaintChangeCounter(source);
    source.set(W);
    source.set(W | O);
    source.set(0); // a drop counts nothing
    source.set(W);
    expect(Object.fromEntries(fromEvents.counts())).toEqual({ W: 2, O: 1 });
    fromEvents.close();
    expect(source.listenerCount('change')).toBe(0);

    const polled = new TaintChangeCounter();
    polled.observe(mainline(W)); // the first observation is the starting point
    polled.observe(mainline(W | O));
    polled.observe(mainline(W | O));
    expect(Object.fromEntries(polled.counts())).toEqual({ O: 1 });
  });
});

describe('collectTaintMetrics (prom-client)', () => {
  it('registers the three metrics, served from the source without reading', async () => {
    const registry = new client.Registry();
    const source = new FakeSource(O);
    const handle = collectTaintMetrics(registry, { source, client, path: '/nonexistent' });
    source.set(O | W);
    const text = await registry.metrics();
    expect(text).toContain('node_kernel_tainted{bit="12",flag="O",name="OOT_MODULE",category="integrity"} 1');
    expect(text).toContain('node_kernel_tainted{bit="9",flag="W",name="WARN",category="stability"} 1');
    expect(text).toContain('node_kernel_tainted{bit="0",flag="P",name="PROPRIETARY_MODULE",category="integrity"} 0');
    expect(text).toContain('node_kernel_tainted_value 4608');
    expect(text).toContain('node_kernel_taint_changes_total{flag="W"} 1');
    expect(text).toContain('node_kernel_taint_changes_total{flag="O"} 0');
    // Same families as the sidecar's text output.
    const json = await registry.getMetricsAsJSON();
    expect(json.map((m) => [m.name, m.type])).toEqual([
      ['node_kernel_tainted', 'gauge'],
      ['node_kernel_tainted_value', 'gauge'],
      ['node_kernel_taint_changes_total', 'counter'],
      ['node_kernel_taint_read_errors_total', 'counter'],
      ['node_kernel_taint_last_read_ok', 'gauge'],
      ['node_kernel_boot_info', 'gauge'],
    ]);
    expect(await registry.getSingleMetricAsString('node_kernel_tainted_value')).toContain('4608');
    handle.close();
    expect(await registry.metrics()).toBe('\n');
    expect(source.listenerCount('change')).toBe(0);
  });

  it('without a source reads the path on each scrape and counts new flags between scrapes', async () => {
    const registry = new client.Registry();
    const file = taintFile('0');
    collectTaintMetrics(registry, { path: file, profile: 'mainline', prefix: 'app_' });
    expect(await registry.metrics()).toContain('app_kernel_tainted_value 0');
    writeFileSync(file, '512\n');
    const text = await registry.metrics();
    expect(text).toContain('app_kernel_tainted_value 512');
    expect(text).toContain('app_kernel_taint_changes_total{flag="W"} 1');
  });

  it('leaves the per-bit series out and reports when the taint cannot be read', async () => {
    const registry = new client.Registry();
    const errors: Error[] = [];
    collectTaintMetrics(registry, { path: '/nonexistent/tainted', client, onError: (e) => errors.push(e) });
    const text = await registry.metrics();
    expect(text).not.toMatch(/^node_kernel_tainted_value /m);
    expect(errors[0]).toMatchObject({ code: 'ENOENT' });
  });
});

class FakeMeter implements OtelMeterLike {
  readonly instruments: Array<{ kind: string; name: string; unit?: string }> = [];
  readonly callbacks: Array<(r: OtelBatchResultLike) => void> = [];
  createObservableGauge(name: string) {
    const i = { kind: 'gauge', name };
    this.instruments.push(i);
    return i;
  }
  createObservableCounter(name: string, o?: { unit?: string }) {
    const i = { kind: 'counter', name, unit: o?.unit };
    this.instruments.push(i);
    return i;
  }
  addBatchObservableCallback(cb: (r: OtelBatchResultLike) => void) {
    this.callbacks.push(cb);
  }
  removeBatchObservableCallback(cb: (r: OtelBatchResultLike) => void) {
    this.callbacks.splice(this.callbacks.indexOf(cb), 1);
  }
  collect(): Array<{ name: string; value: number; attributes?: Record<string, string | number> }> {
    const out: Array<{ name: string; value: number; attributes?: Record<string, string | number> }> = [];
    for (const cb of this.callbacks) {
      cb({
        observe: (m: OtelObservableLike, value, attributes) =>
          out.push({ name: (m as { name: string }).name, value, ...(attributes ? { attributes } : {}) }),
      });
    }
    return out;
  }
}

describe('observeTaintMetrics (OpenTelemetry)', () => {
  it('accepts a real @opentelemetry/api Meter', () => {
    const stop = observeTaintMetrics(otelMetrics.getMeter('test'), { source: new FakeSource(0) });
    stop();
  });

  it('uses the global meter of @opentelemetry/api when none is given', () => {
    observeTaintMetrics(undefined, { source: new FakeSource(0) })();
  });

  it('observes a 0/1 gauge per known bit, the value and the change counter', () => {
    const meter = new FakeMeter();
    const source = new FakeSource(0);
    const stop = observeTaintMetrics(meter, { source });
    expect(meter.instruments.map((i) => i.name)).toEqual([
      'kernel.taint.flag',
      'kernel.taint.value',
      'kernel.taint.changes',
    ]);
    source.set(W);
    const points = meter.collect();
    expect(points).toContainEqual({
      name: 'kernel.taint.flag',
      value: 1,
      attributes: {
        'kernel.taint.bit': 9,
        'kernel.taint.flag': 'W',
        'kernel.taint.name': 'WARN',
        'kernel.taint.category': 'stability',
      },
    });
    expect(points.filter((p) => p.name === 'kernel.taint.flag')).toHaveLength(20);
    expect(points).toContainEqual({ name: 'kernel.taint.value', value: 512 });
    expect(points).toContainEqual({ name: 'kernel.taint.changes', value: 1, attributes: { 'kernel.taint.flag': 'W' } });
    stop();
    expect(meter.callbacks).toHaveLength(0);
    expect(source.listenerCount('change')).toBe(0);
  });

  it('rejects something that is not a meter', () => {
    expect(() => observeTaintMetrics({} as OtelMeterLike)).toThrow(/Meter/);
  });
});
