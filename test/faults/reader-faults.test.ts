// Fault injection for the reader and the watcher (#12): FIFOs, sockets and
// devices where the taint file should be, a watched file replaced by a FIFO,
// symlinks retargeted, dangling and looping, a vanishing directory, NUL bytes
// in paths, and `echo N > F` rewrites under `kernel-taint watch`. Every case
// that used to hang runs in a child process with a timeout, so a regression
// fails the test instead of blocking the suite.
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSupported } from '../../lib/binding.js';
import { readTaint, readTaintValue } from '../../lib/read.js';
import { type TaintChange, type TaintWatcher, watchTaint } from '../../lib/watch.js';
import { nextEvent, settle, waitFor } from '../helpers/events.js';
import { writeValue } from '../helpers/fs.js';
import { ROOT } from '../helpers/reference.js';
import { tempDir } from '../helpers/tmp.js';

const W = 1 << 9;
const DIST = join(ROOT, 'dist/index.cjs');
const CLI = join(ROOT, 'bin/kernel-taint.cjs');

let tmp: string;
const watchers: TaintWatcher[] = [];
beforeEach(() => {
  tmp = tempDir('kt-faults-');
});
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${r.stderr}`);
}

/** Runs a CommonJS script against the built package in a child; fails (never hangs) after timeoutMs. */
function child(script: string, timeoutMs = 10_000): { out: unknown; ms: number } {
  const t0 = Date.now();
  const r = spawnSync(process.execPath, ['-e', `const k=require(${JSON.stringify(DIST)});${script}`], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  const ms = Date.now() - t0;
  if (r.error || r.status !== 0) {
    throw new Error(`child failed or hung (${ms} ms, status ${r.status}, ${r.error?.message ?? ''}): ${r.stderr}`);
  }
  return { out: JSON.parse(r.stdout), ms };
}

const errorJson = 'const j=(e)=>({code:e.code,fileType:e.fileType,path:e.path,syscall:e.syscall,message:e.message});';

describe.skipIf(!isSupported())('not a regular file: refused at once with ERR_KERNEL_TAINT_NOT_A_FILE', () => {
  it('a FIFO: readTaintValue, readTaint and watchTaint return at once (they used to block forever)', () => {
    const fifo = join(tmp, 'fifo');
    mkfifo(fifo);
    const { out, ms } = child(
      `${errorJson}const r={};for(const [n,f] of [['value',()=>k.readTaintValue({path:${JSON.stringify(fifo)}})],['taint',()=>k.readTaint({path:${JSON.stringify(fifo)}})],['watch',()=>k.watchTaint({path:${JSON.stringify(fifo)}})]]){try{f();r[n]='no error'}catch(e){r[n]=j(e)}}console.log(JSON.stringify(r))`,
    );
    const want = {
      code: 'ERR_KERNEL_TAINT_NOT_A_FILE',
      fileType: 'fifo',
      path: fifo,
      syscall: 'open',
      message: `${fifo} is a fifo, not a regular file: refusing to read it`,
    };
    expect(out).toEqual({ value: want, taint: want, watch: want });
    expect(ms).toBeLessThan(5000);
  });

  it('a socket and character devices', async () => {
    const sock = join(tmp, 'sock');
    const server = createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      expect(() => readTaintValue({ path: sock })).toThrow(
        expect.objectContaining({ code: 'ERR_KERNEL_TAINT_NOT_A_FILE', fileType: 'socket', path: sock }),
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
    for (const dev of ['/dev/null', '/dev/zero']) {
      expect(() => readTaintValue({ path: dev })).toThrow(
        expect.objectContaining({ code: 'ERR_KERNEL_TAINT_NOT_A_FILE', fileType: 'character device', path: dev }),
      );
    }
  });

  it('a symlink to a FIFO is refused the same way', () => {
    const fifo = join(tmp, 'fifo');
    mkfifo(fifo);
    symlinkSync(fifo, join(tmp, 'link'));
    const { out } = child(
      `${errorJson}try{k.readTaintValue({path:${JSON.stringify(join(tmp, 'link'))}});console.log('"read"')}catch(e){console.log(JSON.stringify(j(e)))}`,
    );
    expect(out).toMatchObject({ code: 'ERR_KERNEL_TAINT_NOT_A_FILE', fileType: 'fifo' });
  });

  it('a watched file replaced by a FIFO: an error, other watchers go on, close() and exit do not deadlock', () => {
    const a = join(tmp, 'a');
    const b = join(tmp, 'b');
    writeValue(a, 0);
    writeValue(b, 0);
    const script = `${errorJson}
      const fs=require('node:fs');const cp=require('node:child_process');
      const out={errors:[],bChanges:[]};
      const wa=k.watchTaint({path:${JSON.stringify(a)},interval:20,ignoreInitial:true});
      const wb=k.watchTaint({path:${JSON.stringify(b)},interval:20,ignoreInitial:true});
      wa.on('error',(e)=>{out.errors.push(j(e));
        fs.writeFileSync(${JSON.stringify(b)},'512\\n');});
      wb.on('change',async (c)=>{out.bChanges.push(c.current.value);
        const t0=Date.now();await wa.close();await wb.close();out.closeMs=Date.now()-t0;
        console.log(JSON.stringify(out));});
      wa.on('ready',()=>{fs.unlinkSync(${JSON.stringify(a)});cp.execFileSync('mkfifo',[${JSON.stringify(a)}]);});`;
    const { out, ms } = child(script, 15_000);
    expect(out).toMatchObject({
      errors: [{ code: 'ERR_KERNEL_TAINT_NOT_A_FILE', fileType: 'fifo', path: a }],
      bChanges: [W],
    });
    expect((out as { closeMs: number }).closeMs).toBeLessThan(1000);
    expect(ms).toBeLessThan(10_000); // and the process exited by itself
  });
});

describe.skipIf(!isSupported())('symlinks and vanishing directories', () => {
  it('a retargeted symlink is followed by readTaintValue (the kept descriptor is not read forever)', () => {
    writeValue(join(tmp, 'one'), 1);
    writeValue(join(tmp, 'two'), 2);
    const link = join(tmp, 'link');
    symlinkSync(join(tmp, 'one'), link);
    expect(readTaintValue({ path: link })).toBe(1);
    symlinkSync(join(tmp, 'two'), `${link}.tmp`);
    renameSync(`${link}.tmp`, link); // atomic retarget, as `ln -sfn` does
    expect(readTaintValue({ path: link })).toBe(2);
  });

  it('dangling and looping symlinks are system errors with code, syscall and path', () => {
    const dangling = join(tmp, 'dangling');
    symlinkSync(join(tmp, 'nothing'), dangling);
    expect(() => readTaintValue({ path: dangling })).toThrow(
      expect.objectContaining({ code: 'ENOENT', syscall: 'open', path: dangling }),
    );
    const loop = join(tmp, 'loop');
    symlinkSync(loop, loop);
    expect(() => readTaintValue({ path: loop })).toThrow(
      expect.objectContaining({ code: 'ELOOP', syscall: 'open', path: loop }),
    );
  });

  it('a watched symlink retargeted to another file: the watcher reports the new value', async () => {
    writeValue(join(tmp, 'one'), 0);
    writeValue(join(tmp, 'two'), W);
    const link = join(tmp, 'link');
    symlinkSync(join(tmp, 'one'), link);
    const w = watchTaint({ path: link, triggers: ['inotify', 'poll'], interval: 30, ignoreInitial: true });
    watchers.push(w);
    const changes: TaintChange[] = [];
    w.on('change', (c) => changes.push(c));
    await nextEvent(w, 'ready');
    symlinkSync(join(tmp, 'two'), `${link}.tmp`);
    renameSync(`${link}.tmp`, link);
    await waitFor(() => changes.length === 1, 5000, 'the retargeted value');
    expect(changes[0].current.value).toBe(W);
  });

  it('the watched file’s directory vanishes and comes back: one ENOENT, then recovery', async () => {
    const dir = join(tmp, 'sub');
    mkdirSync(dir);
    const path = join(dir, 'tainted');
    writeValue(path, 0);
    const w = watchTaint({ path, triggers: ['inotify', 'poll'], interval: 30, ignoreInitial: true });
    watchers.push(w);
    const errors: (Error & { code?: string })[] = [];
    const changes: TaintChange[] = [];
    w.on('error', (e) => errors.push(e));
    w.on('change', (c) => changes.push(c));
    await nextEvent(w, 'ready');
    rmSync(dir, { recursive: true });
    await waitFor(() => errors.length === 1, 5000, 'ENOENT');
    expect(errors[0]).toMatchObject({ code: 'ENOENT', path });
    await settle(100);
    expect(errors).toHaveLength(1);
    mkdirSync(dir);
    writeValue(path, W);
    await waitFor(() => changes.length === 1, 5000, 'recovery');
    expect(changes[0].current.value).toBe(W);
  });
});

describe.skipIf(!isSupported())('bad paths are coded errors, never silently cut', () => {
  it('a NUL byte in any path option', () => {
    const p = join(tmp, 'tainted');
    writeValue(p, 0);
    const nul = `${p}\0.ignored`;
    const invalid = expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' });
    expect(() => readTaintValue({ path: nul })).toThrow(invalid);
    expect(() => readTaint({ path: nul })).toThrow(invalid);
    expect(() => readTaint({ path: p, charsPath: nul })).toThrow(invalid);
    expect(() => readTaint({ path: p, charsPath: 42 as unknown as string })).toThrow(invalid);
    expect(() => watchTaint({ path: nul })).toThrow(invalid);
  });

  it('more than 32 bytes with leading zeros is ERR_KERNEL_TAINT_INVALID_VALUE, not 0', () => {
    const p = join(tmp, 'tainted');
    writeFileSync(p, `${'0'.repeat(40)}512\n`);
    expect(() => readTaintValue({ path: p })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', path: p }),
    );
  });
});

describe.skipIf(!isSupported())('kernel-taint watch', () => {
  it('prints no spurious "is empty" while the file is rewritten with truncate + write', async () => {
    const p = join(tmp, 'tainted');
    writeValue(p, 0);
    const proc = spawn(process.execPath, [CLI, 'watch', '--path', p, '--json', '--interval', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (d) => {
      out += d;
    });
    proc.stderr.on('data', (d) => {
      err += d;
    });
    const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
    await waitFor(() => out.includes('"initial"'), 10_000, 'the initial line');
    let value = 0;
    for (let i = 0; i < 300; i++) {
      value = value === W ? 1 : W;
      writeFileSync(p, `${value}\n`);
      if (i % 25 === 0) await settle(2);
    }
    await waitFor(() => out.trim().split('\n').at(-1)?.includes(`"value":${value}`) ?? false, 5000, 'the last value');
    await settle(150);
    proc.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).not.toContain('is empty');
    expect(err).not.toMatch(/\n\s+at /);
  });

  it('--filter "" is rejected with a coded error and no stack trace', () => {
    const p = join(tmp, 'tainted');
    writeValue(p, 0);
    const r = spawnSync(process.execPath, [CLI, 'watch', '--path', p, '--filter', ''], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('ERR_KERNEL_TAINT_INVALID_ARG');
    expect(r.stderr).toContain('filter must name at least one flag');
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
});
