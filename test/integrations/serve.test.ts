import { writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { openTaintJournal, readTaintJournal } from '../../lib/integrations/journal.js';
import type { PanelChange, PanelSnapshot } from '../../lib/integrations/panel/types.js';
import { PANEL_CSP, serveTaint, type TaintServer } from '../../lib/integrations/serve.js';
import { taintFile, tempDir } from '../helpers/tmp.js';
import { FakeSource, until } from './helpers.js';

const W = 1 << 9;
const O = 1 << 12;

const servers: TaintServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await s.close();
});

async function start(opts: Parameters<typeof serveTaint>[0] = {}): Promise<TaintServer> {
  const s = await serveTaint({ port: 0, readModules: () => [], ...opts });
  servers.push(s);
  return s;
}

/** A raw HTTP exchange, for what fetch() will not send. */
function raw(port: number, text: string, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, host, () => sock.end(text));
    let out = '';
    sock.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    sock.on('close', () => resolve(out));
    sock.on('error', reject);
  });
}

interface SseEvent {
  event: string;
  data: string;
  id?: string;
}

/** Opens /events and collects parsed events. */
function sse(url: string) {
  const events: SseEvent[] = [];
  let buf = '';
  let res: import('node:http').IncomingMessage | undefined;
  const req = request(`${url}/events`, (r) => {
    res = r;
    r.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const ev: SseEvent = { event: 'message', data: '' };
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) ev.event = line.slice(7);
          else if (line.startsWith('data: ')) ev.data += line.slice(6);
          else if (line.startsWith('id: ')) ev.id = line.slice(4);
        }
        if (ev.data) events.push(ev);
        i = buf.indexOf('\n\n');
      }
    });
  });
  req.end();
  return {
    events,
    headers: () => res?.headers,
    close: () => req.destroy(),
  };
}

describe('serveTaint', () => {
  it('binds 127.0.0.1 by default and serves /health as health+json', async () => {
    const source = new FakeSource(O);
    const s = await start({ source });
    expect(s.host).toBe('127.0.0.1');
    expect(s.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    let r = await fetch(`${s.url}/health`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('application/health+json');
    expect((await r.json()).status).toBe('warn');
    source.set(O | W);
    r = await fetch(`${s.url}/health`);
    expect(r.status).toBe(503);
  });

  it('serves /metrics from the cached state, counting changes', async () => {
    const source = new FakeSource(0);
    const s = await start({ source, path: '/nonexistent' });
    source.set(W);
    const r = await fetch(`${s.url}/metrics`);
    expect(r.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const text = await r.text();
    expect(text).toContain('node_kernel_tainted{bit="9",flag="W",name="WARN",category="stability"} 1');
    expect(text).toContain('node_kernel_tainted_value 512');
    expect(text).toContain('node_kernel_taint_changes_total{flag="W"} 1');
  });

  it('serves the self-contained panel with a strict CSP', async () => {
    const s = await start({ source: new FakeSource(O), title: 'Taint <test>' });
    const r = await fetch(`${s.url}/`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toBe(PANEL_CSP);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'(;|$)/);
    expect(csp).not.toContain('unsafe');
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await r.text();
    expect(html).toContain('<title>Taint &#60;test&#62;</title>');
    // Nothing external: no URL with a scheme or protocol-relative reference.
    expect(html).not.toMatch(/(src|href)=["'](?!data:)/);
    expect(html).not.toMatch(/https?:\/\//);
    expect(html).toContain('"letters":"O"');
  });

  it('streams a snapshot on connect, then change and snapshot events', async () => {
    const source = new FakeSource(0);
    const s = await start({ source });
    const client = sse(s.url);
    await until(() => client.events.length >= 1, 5000, 'first snapshot');
    expect(client.headers()?.['content-type']).toBe('text/event-stream; charset=utf-8');
    const first = JSON.parse(client.events[0].data) as PanelSnapshot;
    expect(client.events[0].event).toBe('snapshot');
    expect(first).toMatchObject({ value: 0, status: 'pass', history: [] });
    expect(s.clients).toBe(1);
    source.set(W, 'kmsg');
    await until(() => client.events.length >= 3, 5000, 'change events');
    expect(client.events[1].event).toBe('change');
    expect(client.events[1].id).toBe('1');
    const change = JSON.parse(client.events[1].data) as PanelChange;
    expect(change).toMatchObject({ seq: 1, value: 512, letters: 'W', trigger: 'kmsg', added: [{ letter: 'W' }] });
    const snap = JSON.parse(client.events[2].data) as PanelSnapshot;
    expect(snap).toMatchObject({ value: 512, status: 'fail', flags: [{ letter: 'W', status: 'fail' }] });
    expect(snap.flags[0].description).toContain('warning');
    // A new client gets the history in its first snapshot.
    const state = (await (await fetch(`${s.url}/state`)).json()) as PanelSnapshot;
    expect(state.history?.map((h) => h.letters)).toEqual(['W']);
    client.close();
    await until(() => s.clients === 0, 5000, 'client to drop');
  });

  it('answers 404 for unknown paths, 405 for other methods, 431 for huge headers, 400 for garbage', async () => {
    const s = await start({ source: new FakeSource(0) });
    expect((await fetch(`${s.url}/nope`)).status).toBe(404);
    expect((await fetch(`${s.url}/health/`)).status).toBe(404);
    const post = await fetch(`${s.url}/health`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    expect((await fetch(`${s.url}/events`, { method: 'DELETE' })).status).toBe(405);
    const head = await fetch(`${s.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${s.url}/health?x=1`)).status).toBe(200);
    const big = await raw(s.port, `GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`);
    expect(big).toMatch(/^HTTP\/1\.1 431 /);
    const junk = await raw(s.port, 'NOT HTTP AT ALL\r\n\r\n');
    expect(junk).toMatch(/^HTTP\/1\.1 400 /);
    // Still serving.
    expect((await fetch(`${s.url}/health`)).status).toBe(200);
  });

  it('refuses foreign Host headers on loopback (DNS rebinding)', async () => {
    const s = await start({ source: new FakeSource(0) });
    const evil = await raw(s.port, 'GET /state HTTP/1.1\r\nHost: evil.example:80\r\nConnection: close\r\n\r\n');
    expect(evil).toMatch(/^HTTP\/1\.1 421 /);
    const ok = await raw(s.port, `GET /health HTTP/1.1\r\nHost: localhost:${s.port}\r\nConnection: close\r\n\r\n`);
    expect(ok).toMatch(/^HTTP\/1\.1 200 /);
  });

  // Every loopback spelling of the bind address; 0.0.0.0 and :: are covered
  // in a private network namespace by test/faults/serve.test.ts.
  for (const [bind, connectTo] of [
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['LOCALHOST', '127.0.0.1'],
  ] as const) {
    it(`checks the Host header when bound to ${bind}`, async () => {
      const s = await start({ source: new FakeSource(0), host: bind, allowedHosts: ['Panel.Internal'] });
      const to = bind === 'LOCALHOST' && s.host === '::1' ? '::1' : connectTo;
      const ask = (host: string) =>
        raw(s.port, `GET /state HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, to).then((r) =>
          Number(r.slice(9, 12)),
        );
      expect(await ask('attacker.example')).toBe(421);
      expect(await ask(`attacker.example:${s.port}`)).toBe(421);
      expect(await ask('localhost.attacker.example')).toBe(421);
      expect(await ask('127.0.0.1.nip.io')).toBe(421);
      expect(await ask('')).toBe(421);
      expect(await ask(`127.0.0.1:${s.port}`)).toBe(200);
      expect(await ask(`[::1]:${s.port}`)).toBe(200);
      expect(await ask(`LOCALHOST:${s.port}`)).toBe(200);
      expect(await ask('localhost.')).toBe(200);
      expect(await ask(`panel.internal:${s.port}`)).toBe(200);
    });
  }

  it('caps connections: idle sockets are evicted so real requests get through', async () => {
    const s = await start({ source: new FakeSource(0), maxConnections: 8, maxClients: 2 });
    const idle = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          new Promise<import('node:net').Socket>((resolve) => {
            const c = connect(s.port, '127.0.0.1', () => resolve(c));
            c.on('error', () => {});
          }),
      ),
    );
    await until(() => s.connections <= 8, 5000, 'cap');
    for (let i = 0; i < 5; i++) expect((await fetch(`${s.url}/health`)).status).toBe(200);
    expect(s.connections).toBeLessThanOrEqual(8);
    expect(s.evicted).toBeGreaterThanOrEqual(12);
    for (const c of idle) c.destroy();
  });

  it('closes a slowloris connection after the header timeout', async () => {
    const s = await start({ source: new FakeSource(0), headersTimeout: 300 });
    const sock = connect(s.port, '127.0.0.1');
    sock.on('error', () => {});
    let reply = '';
    sock.setEncoding('utf8').on('data', (d: string) => {
      reply += d;
    });
    const closed = new Promise<number>((resolve) => {
      const t0 = performance.now();
      sock.on('close', () => resolve(performance.now() - t0));
    });
    sock.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    const drip = setInterval(() => sock.writable && sock.write('X-a: b\r\n'), 50);
    const ms = await closed;
    clearInterval(drip);
    expect(ms).toBeLessThan(3000);
    expect(reply).toMatch(/^HTTP\/1\.1 408 |^$/);
  });

  it('rejects bad limits with a coded error', async () => {
    for (const bad of [{ maxConnections: 0 }, { headersTimeout: 1.5 }, { allowedHosts: 'x' }, { source: 42 }]) {
      await expect(serveTaint({ port: 0, ...(bad as object) })).rejects.toMatchObject({
        code: 'ERR_KERNEL_TAINT_INVALID_ARG',
      });
    }
  });

  it('limits concurrent event clients', async () => {
    const s = await start({ source: new FakeSource(0), maxClients: 1 });
    const a = sse(s.url);
    await until(() => s.clients === 1, 5000, 'first client');
    expect((await fetch(`${s.url}/events`)).status).toBe(503);
    a.close();
  });

  it('watches a temp file itself, closes its watcher and journal', async () => {
    const dir = tempDir();
    const path = taintFile('0');
    const bootIdPath = `${dir}/boot_id`;
    writeFileSync(bootIdPath, 'boot-x\n');
    const journalFile = `${dir}/journal.jsonl`;
    const source = new FakeSource(0);
    const journal = openTaintJournal(journalFile, { source, bootIdPath, env: {} });
    const s = await start({ path, interval: 50, profile: 'mainline', journal });
    const client = sse(s.url);
    await until(() => client.events.length >= 1, 5000, 'snapshot');
    writeFileSync(path, '4608\n');
    await until(
      () => client.events.some((e) => e.event === 'snapshot' && JSON.parse(e.data).value === 4608),
      5000,
      'change from the file',
    );
    source.set(W);
    expect(readTaintJournal(journalFile).records).toHaveLength(1);
    await s.close();
    servers.length = 0;
    await s.close(); // idempotent
    expect(() => journal.observe(source.current as never)).toThrow(/closed/);
  });

  it('rejects a bad port and reports a port in use', async () => {
    await expect(serveTaint({ port: 70000, source: new FakeSource(0) })).rejects.toThrow(/port/);
    const s = await start({ source: new FakeSource(0) });
    await expect(serveTaint({ port: s.port, source: new FakeSource(0) })).rejects.toMatchObject({
      code: 'EADDRINUSE',
    });
  });
});
