// The CLI's limits: --exec runs are timed out, queued runs are bounded and
// counted, SIGTERM stops in bounded time, negative and too-large values get
// the API's message, --allowed-host is repeatable.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/index.js';
import { ROOT } from '../helpers/reference.js';
import { taintFile, tempDir } from '../helpers/tmp.js';
import { memIo, until } from './helpers.js';

const BIN = join(ROOT, 'bin/kernel-taint.cjs');

describe('decode: negative and too-large values', () => {
  it('`decode -1` and `decode -- -1` reach the helpful message', async () => {
    for (const argv of [
      ['decode', '-1'],
      ['decode', '--', '-1'],
      ['decode', '-0x1'],
    ]) {
      const m = memIo();
      expect(await main(argv, m.io), argv.join(' ')).toBe(2);
      expect(m.err.join('\n')).toMatch(/must be unsigned, got -(1|0x1) .*>>> 0/);
    }
  });

  it('every too-large value gets the same "does not fit in 32 bits" message', async () => {
    for (const v of ['4294967296', '0x100000000', '99999999999999999999999', '0xFFFFFFFFFFFFFFFFFFFF']) {
      const m = memIo();
      expect(await main(['decode', v], m.io), v).toBe(2);
      expect(m.err.join('\n'), v).toMatch(
        /does not fit in 32 bits \(0\.\.4294967295\) \(ERR_KERNEL_TAINT_INVALID_VALUE\)/,
      );
    }
  });
});

describe('watch --exec limits', () => {
  it('stops a run that overruns --exec-timeout', async () => {
    const file = taintFile('0\n');
    const ac = new AbortController();
    const m = memIo(ac.signal);
    const marker = join(tempDir(), 'ran');
    const done = main(
      ['watch', '--path', file, '--interval', '50', '--exec', `echo x >> ${marker}; sleep 30`, '--exec-timeout', '300'],
      m.io,
    );
    await until(() => m.err.some((l) => l.includes('still running after 300 ms')), 8000, 'timeout report');
    const t0 = performance.now();
    ac.abort();
    expect(await done).toBe(0);
    expect(performance.now() - t0).toBeLessThan(6500);
  });

  it('drops and counts changes beyond --exec-queue, and stops in bounded time', async () => {
    const file = taintFile('0\n');
    const ac = new AbortController();
    const m = memIo(ac.signal);
    const done = main(
      ['watch', '--path', file, '--interval', '20', '--exec', 'sleep 30', '--exec-queue', '2', '--ignore-initial'],
      m.io,
    );
    await until(() => m.err.some((l) => l.includes('watching')), 5000, 'ready');
    for (let v = 1; v <= 8; v++) {
      writeFileSync(file, `${1 << v}\n`);
      await until(() => m.out.length >= v, 5000, `change ${v}`);
    }
    expect(m.err.some((l) => /queue full \(2 waiting\), change dropped/.test(l))).toBe(true);
    const t0 = performance.now();
    ac.abort();
    expect(await done).toBe(0);
    // One sleep 30 was running and two waited: stopped well before 30 s.
    expect(performance.now() - t0).toBeLessThan(6500);
    expect(m.err.some((l) => /stopping, 2 queued run\(s\) not started/.test(l))).toBe(true);
  });

  it('SIGTERM stops the real binary within the grace time while a command runs', async () => {
    const file = taintFile('0\n');
    const child = spawn(process.execPath, [BIN, 'watch', '--path', file, '--exec', 'sleep 60'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    const exited = new Promise<number | null>((r) => child.once('close', (c) => r(c)));
    await until(() => out.includes('initial'), 8000, 'initial change');
    await new Promise((r) => setTimeout(r, 200));
    const t0 = performance.now();
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(7000);
  });

  it('rejects --exec-timeout without --exec and bad values', async () => {
    for (const argv of [
      ['watch', '--exec-timeout', '5'],
      ['watch', '--exec', 'true', '--exec-timeout', '0'],
      ['watch', '--exec', 'true', '--exec-queue', 'x'],
    ]) {
      const m = memIo();
      expect(await main(argv, m.io), argv.join(' ')).toBe(2);
      expect(m.err.join('\n')).toContain('ERR_KERNEL_TAINT_INVALID_ARG');
    }
  });
});

describe('serve --allowed-host', () => {
  it('is repeatable and accepted in the Host header', async () => {
    const file = taintFile('0\n');
    const ac = new AbortController();
    const m = memIo(ac.signal);
    const done = main(
      ['serve', '--path', file, '--port', '0', '--allowed-host', 'a.internal', '--allowed-host', 'B.internal'],
      m.io,
    );
    await until(() => m.out.some((l) => l.includes('serving on')), 8000, 'listening');
    const url = /serving on (http:\/\/[^/]+)\//.exec(m.out.join('\n'))?.[1] as string;
    const port = Number(new URL(url).port);
    const { request } = await import('node:http');
    const status = (host: string) =>
      new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path: '/health', headers: { Host: host } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', reject);
        req.end();
      });
    expect(await status('a.internal')).toBe(200);
    expect(await status(`b.internal:${port}`)).toBe(200);
    expect(await status('c.internal')).toBe(421);
    ac.abort();
    expect(await done).toBe(0);
    const bad = memIo();
    expect(await main(['serve', '--allowed-host', ''], bad.io)).toBe(2);
  });
});
