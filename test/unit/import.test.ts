// Import must never throw: in a Worker, in a child that must exit by itself,
// off Linux, and without a usable binary.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/reference.js';

const CJS = join(ROOT, 'dist/index.cjs');
const ESM = join(ROOT, 'dist/index.mjs');

function runChild(code: string, env: NodeJS.ProcessEnv = {}, type: 'cjs' | 'esm' = 'cjs') {
  const args = type === 'esm' ? ['--input-type=module', '-e', code] : ['-e', code];
  return spawnSync(process.execPath, args, { encoding: 'utf8', env: { ...process.env, ...env }, timeout: 15_000 });
}

describe('loading', () => {
  it('works in a worker_thread and the worker exits cleanly', async () => {
    const w = new Worker(
      `const { parentPort } = require('node:worker_threads'); const k = require(${JSON.stringify(CJS)});
       parentPort.postMessage({ supported: k.isSupported(), value: k.readTaintValue(), letters: k.decodeTaint(4097).letters });`,
      { eval: true },
    );
    const msg = await new Promise((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    expect(msg).toEqual({ supported: true, value: expect.any(Number), letters: 'PO' });
    expect(await new Promise((r) => w.once('exit', r))).toBe(0);
  });

  it('loads in five Workers at once and in the main thread together', async () => {
    const exits = await Promise.all(
      Array.from({ length: 5 }, () => {
        const w = new Worker(
          `const k = require(${JSON.stringify(CJS)}); for (let i = 0; i < 1000; i++) k.readTaintValue();`,
          { eval: true },
        );
        return new Promise((r) => w.once('exit', r));
      }),
    );
    expect(exits).toEqual([0, 0, 0, 0, 0]);
  });

  it('a child that reads exits by itself with code 0 (CJS and ESM)', () => {
    const a = runChild(`const k = require(${JSON.stringify(CJS)}); console.log(k.readTaintValue())`);
    expect(a.status).toBe(0);
    expect(a.signal).toBeNull();
    expect(Number(a.stdout)).toBeGreaterThanOrEqual(0);
    const b = runChild(`import { readTaint } from ${JSON.stringify(ESM)}; console.log(readTaint().tainted)`, {}, 'esm');
    expect(b.status).toBe(0);
    expect(b.stdout.trim()).toMatch(/^(true|false)$/);
  });

  it('off Linux: import works, isSupported() is false, reading says why, pure functions work', () => {
    const r = runChild(
      `Object.defineProperty(process, 'platform', { value: 'darwin' });
       const k = require(${JSON.stringify(CJS)});
       let err; try { k.readTaintValue(); } catch (e) { err = e; }
       console.log(JSON.stringify({ s: k.isSupported(), code: err.code, msg: err.message, name: err.name, letters: k.parseTaint('Tainted: [W]=WARN').letters }));`,
    );
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      s: false,
      code: 'ERR_KERNEL_TAINT_UNSUPPORTED',
      name: 'UnsupportedError',
      letters: 'W',
    });
    expect(out.msg).toMatch(/only be read on Linux \(this is darwin\)/);
  });

  it('without a usable binary: import works and the error keeps the loader reason as cause', () => {
    // A copy of the package with no build/ and no prebuilds/, as after an
    // install whose compile failed.
    const dir = mkdtempSync(join(tmpdir(), 'kernel-taint-nobin-'));
    try {
      cpSync(join(ROOT, 'dist'), join(dir, 'dist'), { recursive: true });
      cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      cpSync(join(ROOT, 'node_modules/node-gyp-build'), join(dir, 'node_modules/node-gyp-build'), { recursive: true });
      const r = runChild(
        `const k = require(${JSON.stringify(join(dir, 'dist/index.cjs'))});
         let err; try { k.readTaint(); } catch (e) { err = e; }
         console.log(JSON.stringify({ s: k.isSupported(), code: err.code, msg: err.message, cause: String(err.cause && err.cause.message), d: k.decodeTaint(1).letters }));`,
      );
      expect(r.status).toBe(0);
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({ s: false, code: 'ERR_KERNEL_TAINT_UNSUPPORTED', d: 'P' });
      expect(out.msg).toMatch(/could not be loaded/);
      expect(out.cause).toMatch(/No native build was found/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
