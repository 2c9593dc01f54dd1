// Process-level lifecycle in forked children (one per case), asserting the exit
// code and that no signal killed them: the watcher must not keep a process
// alive unless persistent, must not crash it at exit, and must turn a throwing
// listener into an ordinary uncaught exception.
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { isSupported } from '../../lib/binding.js';
import { cleanupArtifacts, script } from '../helpers/bundle.js';
import { startNode } from '../helpers/child.js';
import { isRoot, SKIP_ROOT } from '../helpers/features.js';
import { encodeValue, writeValue } from '../helpers/fs.js';
import { publicTempDir } from '../helpers/tmp.js';

const files: string[] = [];
let tmp: string;
let path: string;

async function child(name: string, body: string): Promise<string> {
  const f = await script(name, body);
  files.push(f);
  return f;
}

beforeAll(() => {
  tmp = publicTempDir('kt-child-', 'file'); // readable by the unprivileged child below
});
beforeEach(() => {
  path = join(tmp, `t${Math.random().toString(36).slice(2)}`);
  writeValue(path, 0);
});
afterAll(async () => {
  await cleanupArtifacts(files);
});

const P = (p: string) => JSON.stringify(p);

describe.skipIf(!isSupported())('watchers and process lifetime', () => {
  it('a child with an unref-ed watcher exits by itself', async () => {
    const f = await child(
      'unref',
      `const w = kt.watchTaint({ path: ${P(path)}, persistent: false });
       w.on('ready', (t) => console.log('ready', t.join(',')));`,
    );
    const c = startNode(f);
    await c.line(/^ready /);
    expect(await c.exit(10_000)).toMatchObject({ code: 0, signal: null });
  });

  it('.unref() on a persistent watcher lets the child exit; unref-ed watchers still deliver', async () => {
    const f = await child(
      'unref-later',
      `const a = kt.watchTaint({ path: ${P(path)} });
       const b = kt.watchTaint({ path: ${P(path)} }).unref();
       a.unref();
       // Kept alive by a timer only: changes are still delivered meanwhile.
       const t = setTimeout(() => {}, 3000);
       b.on('change', (c) => { if (c.trigger !== 'initial') { console.log('change', c.current.value); clearTimeout(t); } });
       b.on('ready', () => console.log('ready'));`,
    );
    const c = startNode(f);
    await c.line(/^ready$/);
    writeValue(path, 512);
    await c.line(/^change 512$/);
    expect(await c.exit(10_000)).toMatchObject({ code: 0, signal: null });
  });

  it('a persistent watcher keeps the child alive until it is closed', async () => {
    const f = await child(
      'persistent',
      `const w = kt.watchTaint({ path: ${P(path)}, ignoreInitial: true, interval: 100 });
       w.on('ready', () => console.log('ready'));
       w.on('change', (c) => { console.log('change', c.current.value); void w.close(); });`,
    );
    const c = startNode(f);
    await c.line(/^ready$/);
    await new Promise((r) => setTimeout(r, 300));
    expect(c.alive()).toBe(true);
    writeValue(path, 4096);
    await c.line(/^change 4096$/);
    expect(await c.exit(10_000)).toMatchObject({ code: 0, signal: null });
  });

  it('process.exit() with open watchers and deliveries in flight exits cleanly', async () => {
    const f = await child(
      'exit',
      `import { openSync, writeSync } from 'node:fs';
       const ws = Array.from({ length: 20 }, () => kt.watchTaint({ path: ${P(path)}, interval: 1 }));
       const fd = openSync(${P(path)}, 'r+');
       let n = 0, changes = 0;
       ws[0].on('change', () => { if (++changes === 50) process.exit(0); });
       setInterval(() => writeSync(fd, String(++n % 1000).padStart(10, '0') + '\\n', 0), 0);`,
    );
    expect(await startNode(f).exit(15_000)).toMatchObject({ code: 0, signal: null });
  });

  it("a throwing 'change' listener is an uncaught exception (exit 1), not a swallowed warning", async () => {
    const f = await child(
      'throw',
      `const w = kt.watchTaint({ path: ${P(path)}, ignoreInitial: true });
       w.on('ready', () => console.log('ready'));
       w.on('change', () => { throw new Error('boom from a listener'); });`,
    );
    const c = startNode(f);
    await c.line(/^ready$/);
    writeValue(path, 512);
    const r = await c.exit(10_000);
    expect(r).toMatchObject({ code: 1, signal: null });
    expect(r.stderr).toContain('boom from a listener');
    expect(r.stderr).not.toContain('DEP0168');
  });

  it("process.on('uncaughtException') sees a throwing listener and the watcher keeps working", async () => {
    const f = await child(
      'caught',
      `let caught = 0;
       process.on('uncaughtException', (e) => { console.log('caught', e.message); caught++; });
       const w = kt.watchTaint({ path: ${P(path)}, ignoreInitial: true });
       w.on('ready', () => console.log('ready'));
       w.on('change', (c) => {
         if (caught === 0) throw new Error('first');
         console.log('change', c.current.value);
         void w.close();
       });`,
    );
    const c = startNode(f);
    await c.line(/^ready$/);
    writeValue(path, 1);
    await c.line(/^caught first$/);
    writeValue(path, 3);
    await c.line(/^change 3$/);
    expect(await c.exit(10_000)).toMatchObject({ code: 0, signal: null });
  });

  it('off Linux watchTaint throws ERR_KERNEL_TAINT_UNSUPPORTED (the addon is never loaded)', async () => {
    const f = await child(
      'unsupported',
      `Object.defineProperty(process, 'platform', { value: 'darwin' });
       try { kt.watchTaint({ path: ${P(path)} }); console.log('no error'); }
       catch (e) { console.log('error', e.code, e.name); }`,
    );
    const c = startNode(f);
    await c.line(/^error ERR_KERNEL_TAINT_UNSUPPORTED UnsupportedError$/);
    expect(await c.exit(10_000)).toMatchObject({ code: 0, signal: null });
  });

  it.skipIf(!isRoot)(
    `permission denied on re-open is an 'error' with code EACCES (${SKIP_ROOT}switch to an unprivileged uid)`,
    async () => {
      const f = await child(
        'eacces',
        `const w = kt.watchTaint({ path: ${P(path)}, triggers: ['inotify', 'kmsg', 'poll'], interval: 20, ignoreInitial: true });
         w.on('ready', (t) => console.log('ready', t.join(',')));
         w.on('error', (e) => { console.log('error', e.code, e.syscall, e.errno); void w.close(); });`,
      );
      const c = startNode(f, { uid: 65534, gid: 65534 });
      const ready = await c.line(/^ready /);
      // dmesg_restrict hides /dev/kmsg from an unprivileged process: skipped, not an error.
      const restricted = readFileSync('/proc/sys/kernel/dmesg_restrict', 'utf8').trim();
      if (restricted === '1') expect(ready).toBe('ready inotify,poll');
      // Replace the file by one the child may not open.
      const locked = `${path}.new`;
      writeFileSync(locked, encodeValue(512), { mode: 0o000 });
      renameSync(locked, path);
      await c.line(/^error EACCES open -13$/);
      expect(await c.exit(10_000)).toMatchObject({ code: 0, signal: null });
    },
  );
});
