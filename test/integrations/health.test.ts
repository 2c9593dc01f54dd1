import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootBaseline } from '../../lib/integrations/boot.js';
import {
  createHealthCheck,
  expressHealth,
  type FastifyReplyLike,
  fastifyHealth,
  HEALTH_CONTENT_TYPE,
  healthCheck,
  healthHandler,
  type KoaContextLike,
  koaHealth,
  lightshipHealth,
  TaintHealthCheckError,
  terminusHealth,
} from '../../lib/integrations/health.js';
import { taintFile, tempDir } from '../helpers/tmp.js';
import { FakeSource, mainline } from './helpers.js';

const W = 1 << 9;
const O = 1 << 12;

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function listen(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const s = createServer(handler);
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

describe('healthCheck', () => {
  it('answers in the IETF health+json draft shape', () => {
    const body = healthCheck({ path: taintFile('4096\n'), profile: 'mainline', serviceId: 'svc', version: '1' });
    expect(body).toMatchObject({
      status: 'warn',
      serviceId: 'svc',
      version: '1',
      output: expect.stringContaining('OOT_MODULE'),
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const [check] = body.checks['kernel:taint'];
    expect(check).toMatchObject({
      componentType: 'system',
      observedValue: 4096,
      observedUnit: 'bitmask',
      status: 'warn',
      letters: 'O',
      profile: 'mainline',
      reasons: [{ letter: 'O', name: 'OOT_MODULE', category: 'integrity', status: 'warn' }],
    });
  });

  it('omits output on pass, as the draft asks', () => {
    const body = healthCheck({ path: taintFile('0'), profile: 'mainline' });
    expect(body.status).toBe('pass');
    expect(body).not.toHaveProperty('output');
    expect(body.checks['kernel:taint'][0]).not.toHaveProperty('output');
  });

  it('fails with the error when the taint cannot be read; onError overrides', () => {
    const missing = join(tempDir(), 'nope');
    const body = healthCheck({ path: missing });
    expect(body.status).toBe('fail');
    expect(body.output).toMatch(/ENOENT/);
    expect(body.checks['kernel:taint'][0].observedValue).toBeNull();
    expect(healthCheck({ path: missing, onError: 'warn' }).status).toBe('warn');
  });

  it('answers from the source cached state (no read of the path)', () => {
    const source = new FakeSource(W);
    const check = createHealthCheck({ source, path: join(tempDir(), 'never-read') });
    expect(check.check().status).toBe('fail');
    source.set(W | O);
    expect(check.check().checks['kernel:taint'][0].letters).toBe('WO');
    expect(check.last?.status).toBe('fail');
  });

  it("remembers the 'start' baseline when created", () => {
    const source = new FakeSource(W);
    const check = createHealthCheck({ source, policy: { baseline: 'start' } });
    expect(check.check().status).toBe('pass');
    source.set(W | O);
    const body = check.check();
    expect(body.status).toBe('warn');
    expect(body.checks['kernel:taint'][0].reasons.map((r) => r.status)).toEqual(['pass', 'warn']);
  });

  it('onlyNewSinceBoot keeps the first value of the boot in baselineFile, re-armed by a new boot id', () => {
    const dir = tempDir();
    const bootIdPath = join(dir, 'boot_id');
    const baselineFile = join(dir, 'baseline.json');
    const writeBoot = (id: string) => writeFileSync(bootIdPath, `${id}\n`);
    writeBoot('boot-1');
    const source = new FakeSource(W);
    const opts = { source, policy: { onlyNewSinceBoot: true }, baselineFile, bootIdPath };
    expect(createHealthCheck(opts).check().status).toBe('pass');
    source.set(W | O);
    // A restarted checker on the same boot keeps the first baseline.
    expect(createHealthCheck(opts).check().status).toBe('warn');
    expect(bootBaseline(baselineFile, 0, { bootIdPath })).toMatchObject({ bootId: 'boot-1', value: W, created: false });
    writeBoot('boot-2');
    expect(createHealthCheck(opts).check().status).toBe('pass');
    expect(() => createHealthCheck({ source, policy: { onlyNewSinceBoot: true } })).toThrow(/baselineFile/);
  });

  it('reads modules only for module rules; a given readModules is called per check (the default is cached in lib/modules.ts)', () => {
    let reads = 0;
    const source = new FakeSource(O);
    const readModules = () => {
      reads++;
      return [{ name: 'zfs', letters: 'O' }];
    };
    const plain = createHealthCheck({ source, readModules });
    plain.check();
    expect(reads).toBe(0);
    const check = createHealthCheck({ source, readModules, policy: { allow: [{ flag: 'O', modules: ['zfs'] }] } });
    expect(check.check().status).toBe('pass');
    check.check();
    expect(reads).toBe(2);
  });
});

describe('adapters', () => {
  it('node:http handler: 200 for pass and warn, 503 for fail, HEAD, 405', async () => {
    const source = new FakeSource(O);
    const url = await listen(healthHandler({ source }));
    let r = await fetch(url);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe(HEALTH_CONTENT_TYPE);
    expect(r.headers.get('cache-control')).toBe('no-store');
    expect((await r.json()).status).toBe('warn');
    source.set(O | W);
    r = await fetch(url);
    expect(r.status).toBe(503);
    expect((await r.json()).status).toBe('fail');
    r = await fetch(url, { method: 'HEAD' });
    expect(r.status).toBe(503);
    expect(await r.text()).toBe('');
    r = await fetch(url, { method: 'POST' });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET, HEAD');
  });

  it('Express-style (req, res, next) handler, errors go to next', async () => {
    const source = new FakeSource(0);
    const url = await listen((req, res) => expressHealth({ source })(req, res, () => {}));
    const r = await fetch(url);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'pass' });
    const errors: unknown[] = [];
    const broken = expressHealth({
      check: () => {
        throw new Error('boom');
      },
      last: null,
    });
    broken({ method: 'GET' } as never, {} as never, (e) => errors.push(e));
    expect(errors).toHaveLength(1);
  });

  it('Fastify-style async (request, reply) handler', async () => {
    const sent: { code?: number; headers: Record<string, string>; payload?: unknown } = { headers: {} };
    const reply: FastifyReplyLike = {
      code(n) {
        sent.code = n;
        return reply;
      },
      header(k, v) {
        sent.headers[k] = v;
        return reply;
      },
      send(p) {
        sent.payload = p;
        return reply;
      },
    };
    await fastifyHealth({ source: new FakeSource(W) })({}, reply);
    expect(sent.code).toBe(503);
    expect(sent.headers['content-type']).toBe(HEALTH_CONTENT_TYPE);
    expect(JSON.parse(sent.payload as string).status).toBe('fail');
  });

  it('Koa-style async (ctx, next) middleware', async () => {
    const headers: Record<string, string> = {};
    const ctx: KoaContextLike = {
      status: 404,
      type: '',
      body: undefined,
      set: (k, v) => {
        headers[k] = v;
      },
    };
    await koaHealth({ source: new FakeSource(O) })(ctx);
    expect(ctx.status).toBe(200);
    expect(ctx.type).toBe(HEALTH_CONTENT_TYPE);
    expect(JSON.parse(ctx.body as string).checks['kernel:taint'][0].letters).toBe('O');
    expect(headers['Cache-Control']).toBe('no-store');
  });

  it('terminus check: resolves on pass/warn, throws an error with causes on fail', async () => {
    const source = new FakeSource(O);
    const check = terminusHealth({ source });
    await expect(check()).resolves.toMatchObject({ status: 'warn' });
    source.set(O | W);
    const err = await check().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TaintHealthCheckError);
    expect(err).toMatchObject({ code: 'ERR_KERNEL_TAINT_UNHEALTHY', causes: { status: 'fail' } });
  });

  it('lightship binding: not ready while failing, follows source changes, stops', () => {
    const calls: string[] = [];
    const lightship = { signalReady: () => calls.push('ready'), signalNotReady: () => calls.push('not-ready') };
    const source = new FakeSource(0);
    const stop = lightshipHealth(lightship, { source });
    source.set(O); // warn: still ready, no new call
    source.set(O | W);
    stop();
    source.set(0);
    expect(calls).toEqual(['ready', 'not-ready']);
    expect(source.listenerCount('change')).toBe(0);
  });

  it('adapters accept a check created once', async () => {
    const check = createHealthCheck({ source: new FakeSource(0) });
    expect((await terminusHealth(check)()).status).toBe('pass');
  });

  it('mainline helper decodes like the library', () => {
    expect(mainline(W | O).letters).toBe('WO');
  });
});
