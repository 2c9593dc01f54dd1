// serve under attack: slowloris with a 128-fd limit, and DNS rebinding on the
// wildcard binds 0.0.0.0 and :: (in a private network namespace, so nothing
// listens outside loopback).
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { canUnshare, DIST, isRoot, runNode } from './helpers.js';

const netNs = canUnshare(['-n']);
if (!netNs) console.warn('faults/serve: rebinding on 0.0.0.0/:: skipped: needs root and unshare -n');

describe.skipIf(!isRoot)('slowloris', () => {
  it('with a 128-fd limit, 150 slow connections do not lock real requests out', async () => {
    const file = join(tempDir(), 'tainted');
    writeFileSync(file, '0\n');
    // The server runs with 128 fds; the attacker (this process) has plenty.
    const script = `
      const { serveTaint } = require(process.env.DIST + '/serve.cjs');
      serveTaint({ port: 0, path: ${JSON.stringify(file)}, headersTimeout: 3000, readModules: () => [] }).then((srv) => {
        console.log('port ' + srv.port);
        process.stdin.on('data', () => console.log(JSON.stringify({ connections: srv.connections, evicted: srv.evicted })));
        process.stdin.on('end', () => srv.close());
      });
    `;
    const child = spawn('prlimit', ['--nofile=128:128', process.execPath, '-e', script], {
      env: { ...process.env, DIST },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const t0 = Date.now();
    while (!/port \d+/.test(out) && Date.now() - t0 < 15_000) await sleep(50);
    const port = Number(/port (\d+)/.exec(out)?.[1]);
    const slow: Socket[] = [];
    for (let i = 0; i < 150; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n'));
      slow.push(s);
    }
    const drip = setInterval(() => {
      for (const s of slow) if (s.writable) s.write('X-a: b\r\n');
    }, 200);
    await sleep(500);
    const get = () =>
      new Promise<number | string>((resolve) => {
        const req = httpGet({ host: '127.0.0.1', port, path: '/health', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
        req.setTimeout(5000, () => {
          req.destroy();
          resolve('timeout');
        });
      });
    const codes: Array<number | string> = [];
    for (let i = 0; i < 20; i++) codes.push(await get());
    child.stdin.write('?\n');
    while (!out.includes('evicted') && Date.now() - t0 < 30_000) await sleep(50);
    const during = JSON.parse(out.split('\n').find((l) => l.includes('evicted')) as string);
    // The header deadline (3 s + 5 s idle) ends the slow ones that were not evicted.
    await sleep(8000);
    const alive = slow.filter((s) => !s.destroyed && s.readyState === 'open').length;
    clearInterval(drip);
    for (const s of slow) s.destroy();
    child.stdin.end();
    await new Promise((r) => child.once('close', r));
    expect(err).toBe('');
    expect(codes).toEqual(Array(20).fill(200));
    expect(during.connections).toBeLessThanOrEqual(64);
    expect(during.evicted).toBeGreaterThan(80);
    expect(alive).toBe(0);
  });
});

describe.skipIf(!netNs)('DNS rebinding on wildcard binds', () => {
  it('0.0.0.0 and :: answer 421 to a foreign Host and 200 to IP literals', () => {
    const file = join(tempDir(), 'tainted');
    writeFileSync(file, '0\n');
    const script = `
      require('node:child_process').execFileSync('ip', ['link', 'set', 'lo', 'up']);
      const net = require('node:net');
      const { serveTaint } = require(process.env.DIST + '/serve.cjs');
      const ask = (port, to, host) => new Promise((resolve) => {
        const s = net.connect(port, to, () => s.end('GET /state HTTP/1.1\\r\\nHost: ' + host + '\\r\\nConnection: close\\r\\n\\r\\n'));
        let b = ''; s.setEncoding('utf8').on('data', (d) => (b += d)); s.on('close', () => resolve(Number(b.slice(9, 12))));
        s.on('error', (e) => resolve(e.code));
      });
      (async () => {
        const out = {};
        for (const bind of ['0.0.0.0', '::']) {
          const srv = await serveTaint({ host: bind, port: 0, path: ${JSON.stringify(file)}, readModules: () => [] });
          out[bind] = {
            evil4: await ask(srv.port, '127.0.0.1', 'attacker.example'),
            evil6: bind === '::' ? await ask(srv.port, '::1', 'attacker.example:' + srv.port) : 421,
            ip: await ask(srv.port, '127.0.0.1', '127.0.0.1:' + srv.port),
            ip6: bind === '::' ? await ask(srv.port, '::1', '[::1]:' + srv.port) : 200,
          };
          await srv.close();
        }
        console.log(JSON.stringify(out));
      })();
    `;
    const r = runNode(['unshare', '-n'], script);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out)).toEqual({
      '0.0.0.0': { evil4: 421, evil6: 421, ip: 200, ip6: 200 },
      '::': { evil4: 421, evil6: 421, ip: 200, ip6: 200 },
    });
  });
});
