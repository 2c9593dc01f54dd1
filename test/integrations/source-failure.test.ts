// A source whose reads fail must make every integration show the failure:
// /health fails (503) by default, /metrics says the last read failed and
// drops the stale value, the panel feed says so with a stale age, and the
// componentId names the file actually watched.
import { renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as client from 'prom-client';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import { createTaintPanelFeed } from '../../lib/integrations/feed.js';
import { createHealthCheck, healthCheck } from '../../lib/integrations/health.js';
import { collectTaintMetrics, formatPrometheus, taintMetricFamilies } from '../../lib/integrations/metrics.js';
import { serveTaint, type TaintServer } from '../../lib/integrations/serve.js';
import { SourceHealth } from '../../lib/integrations/source.js';
import { type TaintWatcher, watchTaint } from '../../lib/watch.js';
import { taintFile, tempDir } from '../helpers/tmp.js';
import { FakeSource, until } from './helpers.js';

const O = 1 << 12;

/** A FakeSource that can fail and recover like a watcher. */
class FailingSource extends FakeSource {
  error: Error | null = null;
  path = '/srv/fake/tainted';
  fail(e: Error): void {
    this.error = e;
    this.emit('error', e);
  }
  recover(): void {
    this.error = null;
    (this as unknown as { emit(e: string): void }).emit('recover');
  }
}

function enoent(path: string): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), {
    code: 'ENOENT',
    errno: -2,
    syscall: 'open',
    path,
  });
}

const open: Array<{ close(): unknown }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) await o.close();
});

describe('a source in error', () => {
  it('fails the health check by default, warns or judges the last value when asked', () => {
    const src = new FailingSource(O);
    const fail = createHealthCheck({ source: src });
    const warn = createHealthCheck({ source: src, onError: 'warn' });
    const last = createHealthCheck({ source: src, onError: 'last' });
    expect(fail.check().status).toBe('warn'); // O is an integrity flag: warn by category
    src.fail(enoent(src.path));
    const body = fail.check();
    expect(body.status).toBe('fail');
    expect(body.output).toContain('ENOENT');
    expect(body.checks['kernel:taint'][0]).toMatchObject({ componentId: '/srv/fake/tainted', observedValue: null });
    expect(warn.check().status).toBe('warn');
    const l = last.check();
    expect(l.status).toBe('warn');
    expect(l.checks['kernel:taint'][0].observedValue).toBe(O);
    expect(l.output).toMatch(/stale for \d+ s: cannot read kernel taint/);
    src.recover();
    expect(fail.check().status).toBe('warn');
    expect(fail.check().output).not.toContain('ENOENT');
    for (const c of [fail, warn, last]) c.close();
    expect(src.listenerCount('error')).toBe(0);
    expect(src.listenerCount('change')).toBe(0);
  });

  it('a clean value does not pass while the source is stale (onError last)', () => {
    const src = new FailingSource(0);
    const last = createHealthCheck({ source: src, onError: 'last' });
    expect(last.check().status).toBe('pass');
    src.fail(enoent(src.path));
    expect(last.check().status).toBe('warn');
    last.close();
  });

  it('rejects bad options with a coded error instead of reading /proc', () => {
    for (const bad of [
      { source: 42 },
      { source: {} },
      { onError: 'pass' },
      { path: 42 },
      { policy: 'x' },
      { baseline: 'x' },
    ]) {
      expect(() => createHealthCheck(bad as never), JSON.stringify(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
      );
    }
    expect(() => createHealthCheck(null as never)).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
    expect(() => healthCheck({ source: 'x' } as never)).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
  });

  it('ages with the monotonic clock', () => {
    const src = new FailingSource(0);
    const h = new SourceHealth(src);
    src.fail(enoent('x'));
    const realNow = Date.now;
    try {
      // A wall-clock step back of an hour must not freeze or reset the age.
      Date.now = () => realNow() - 3_600_000;
      expect(h.staleMs()).toBeGreaterThanOrEqual(0);
      expect(h.staleMs()).toBeLessThan(60_000);
    } finally {
      Date.now = realNow;
    }
    expect(h.errors).toBe(1);
    h.close();
  });

  it('metrics: read errors counted, last_read_ok 0 and the stale value left out', async () => {
    const src = new FailingSource(O);
    const text = (readOk: boolean, errors: number) =>
      formatPrometheus(taintMetricFamilies(readOk ? src.current : null, new Map(), { readErrors: errors }));
    expect(text(true, 0)).toContain('node_kernel_taint_last_read_ok 1');
    const bad = text(false, 3);
    expect(bad).toContain('node_kernel_taint_last_read_ok 0');
    expect(bad).toContain('node_kernel_taint_read_errors_total 3');
    expect(bad).not.toMatch(/^node_kernel_tainted_value \d/m);

    const registry = new Registry();
    const handle = collectTaintMetrics(registry, { source: src, client });
    open.push(handle);
    src.fail(enoent(src.path));
    const scraped = await registry.metrics();
    expect(scraped).toContain('node_kernel_taint_read_errors_total 1');
    expect(scraped).toContain('node_kernel_taint_last_read_ok 0');
    expect(scraped).not.toMatch(/node_kernel_tainted_value \d/);
    src.recover();
    const again = await registry.metrics();
    expect(again).toContain('node_kernel_taint_last_read_ok 1');
    expect(again).toContain(`node_kernel_tainted_value ${O}`);
  });

  it('the panel feed shows the error, a stale age and recovers', () => {
    const src = new FailingSource(0);
    const feed = createTaintPanelFeed({ source: src, readModules: () => [] });
    open.push(feed);
    const snaps: string[] = [];
    feed.on('snapshot', (s) => snaps.push(`${s.status}:${s.error ? 'error' : 'ok'}`));
    expect(feed.snapshot().status).toBe('pass');
    src.fail(enoent(src.path));
    const s = feed.snapshot();
    expect(s.status).toBe('fail');
    expect(s.error).toContain('ENOENT');
    expect(s.staleSince).toMatch(/^\d{4}-/);
    expect(s.staleMs).toBeGreaterThanOrEqual(0);
    src.recover();
    expect(feed.snapshot()).toMatchObject({ status: 'pass', error: null, staleSince: null, staleMs: 0 });
    expect(snaps).toEqual(['fail:error', 'pass:ok']);
  });
});

describe('a real watcher whose file vanishes and comes back', () => {
  let w: TaintWatcher | undefined;
  let srv: TaintServer | undefined;
  afterEach(async () => {
    await srv?.close();
    await w?.close();
    srv = undefined;
    w = undefined;
  });

  it('/health 503 and /metrics last_read_ok 0 while gone; back to 200 with the same value', async () => {
    const file = taintFile('0\n');
    w = watchTaint({ path: file, interval: 50, persistent: false });
    const errors: Error[] = [];
    w.on('error', (e) => errors.push(e));
    srv = await serveTaint({ port: 0, source: w, readModules: () => [] });
    const get = async (p: string) => {
      const r = await fetch(`${srv?.url}${p}`);
      return { status: r.status, text: await r.text() };
    };
    expect((await get('/health')).status).toBe(200);
    unlinkSync(file);
    await until(() => errors.length > 0);
    expect(w.error).not.toBeNull();
    const h = await get('/health');
    expect(h.status).toBe(503);
    expect(JSON.parse(h.text).checks['kernel:taint'][0].componentId).toBe(file);
    const m = await get('/metrics');
    expect(m.text).toContain('node_kernel_taint_last_read_ok 0');
    expect(m.text).toMatch(/node_kernel_taint_read_errors_total [1-9]/);
    const st = JSON.parse((await get('/state')).text);
    expect(st.status).toBe('fail');
    expect(st.error).toContain('ENOENT');
    // Same value again: no 'change', but the reads work again.
    const tmp = join(tempDir(), 'new');
    writeFileSync(tmp, '0\n');
    renameSync(tmp, file);
    await until(() => w?.error === null, 8000);
    expect((await get('/health')).status).toBe(200);
    expect((await get('/metrics')).text).toContain('node_kernel_taint_last_read_ok 1');
  });
});

describe('coded errors for bad input', () => {
  it('classifyTaint, parseKernelVersion, readTaint reject bad arguments with ERR_KERNEL_TAINT_INVALID_ARG', async () => {
    const { classifyTaint } = await import('../../lib/integrations/policy.js');
    const { parseKernelVersion } = await import('../../lib/kernel-version.js');
    const { readTaint } = await import('../../lib/read.js');
    const invalid = expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' });
    expect(() => classifyTaint(null as never)).toThrow(invalid);
    expect(() => classifyTaint(42 as never)).toThrow(invalid);
    expect(() => classifyTaint({ value: 1 } as never)).toThrow(invalid);
    expect(() => parseKernelVersion(42 as never)).toThrow(invalid);
    expect(() => parseKernelVersion(null as never)).toThrow(invalid);
    expect(() => readTaint({ charsPath: 42 } as never)).toThrow(invalid);
    expect(() => readTaint(null as never)).toThrow(invalid);
  });
});
