// Runs every example of the README (test/examples/, the README's code blocks
// byte for byte: test/unit/readme-blocks.test.ts) and asserts what it prints
// or serves. The examples read /proc/sys/kernel/tainted as a user's program
// does: each runs in a private mount namespace where a temp file is
// bind-mounted over it, and the test changes that file (the host's sysctl is
// never written). A `// =>` comment in an example is a line it must print.
// The Electron recipe runs with stand-ins that have Electron's signatures
// (test/helpers/electron-standin.cjs) and its renderer in headless Chromium.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'rolldown';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/reference.js';
import { taintFile, tempDir } from '../helpers/tmp.js';

const EXAMPLES = join(ROOT, 'test/examples');
const CHROMIUM = '/usr/bin/chromium';
const built = existsSync(join(ROOT, 'dist/index.mjs')) && existsSync(join(ROOT, 'dist/cli.cjs'));

/** The command line that runs `command` with `taint` bind-mounted over the sysctl, in a private mount namespace. */
function mounted(taint: string, command: string[]): string[] {
  const script = 'mount --bind "$0" /proc/sys/kernel/tainted && exec "$@"';
  return ['unshare', '-m', '--propagation', 'private', 'sh', '-c', script, taint, ...command];
}

/** Root, and a private mount namespace in which a file can be bind-mounted over the sysctl. */
function canBind(): boolean {
  if (process.getuid?.() !== 0) return false;
  const [cmd, ...argv] = mounted(taintFile('4096\n'), ['cat', '/proc/sys/kernel/tainted']);
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 10_000 });
  return r.status === 0 && r.stdout === '4096\n';
}
const bind = built && canBind();
if (!built) console.warn('readme-examples: FAILING: dist/ is missing (npm run build)');
if (!existsSync(CHROMIUM))
  console.warn(`readme-examples: skipped the Electron recipe: needs ${CHROMIUM} (apt-get install chromium)`);
if (built && !bind)
  console.warn('readme-examples: skipped the examples that read the sysctl: they need root (unshare -m, mount --bind)');

interface Running {
  out: string[];
  err: string[];
  /** The first stdout (or stderr) line matching re, waiting up to ms. */
  line(re: RegExp, stream?: 'out' | 'err', ms?: number): Promise<string>;
  exit(ms?: number): Promise<number | null>;
  stop(): Promise<void>;
}

/** Runs an example with `taint` as /proc/sys/kernel/tainted (or plainly without `taint`), cwd test/examples. */
function run(file: string, taint: string | null, env: Record<string, string> = {}, args: string[] = []): Running {
  const node = [process.execPath, resolve(EXAMPLES, file), ...args];
  const [cmd, ...argv] = taint ? mounted(taint, node) : node;
  const child = spawn(cmd, argv, {
    cwd: EXAMPLES,
    env: { ...process.env, KERNEL_TAINT_ATTRIBUTION: 'off', NO_COLOR: '1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  const err: string[] = [];
  const collect = (into: string[]) => {
    let partial = '';
    return (d: string) => {
      const parts = (partial + d).split('\n');
      partial = parts.pop() ?? '';
      into.push(...parts);
    };
  };
  child.stdout.setEncoding('utf8').on('data', collect(out));
  child.stderr.setEncoding('utf8').on('data', collect(err));
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return {
    out,
    err,
    async line(re, stream = 'out', ms = 10_000) {
      const lines = stream === 'out' ? out : err;
      const end = Date.now() + ms;
      for (;;) {
        const hit = lines.find((l) => re.test(l));
        if (hit !== undefined) return hit;
        if (Date.now() > end || child.exitCode !== null) {
          throw new Error(
            `${file}: no ${stream} line matching ${re}\nstdout:\n${out.join('\n')}\nstderr:\n${err.join('\n')}`,
          );
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async exit(ms = 15_000) {
      const t = setTimeout(() => child.kill('SIGKILL'), ms);
      const code = await exited;
      clearTimeout(t);
      return code;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** The `// => line` comments of an example, in order. */
function promised(file: string): string[] {
  const text = readFileSync(join(EXAMPLES, file), 'utf8');
  return [...text.matchAll(/\/\/ => (.*)$/gm)].map((m) => m[1]);
}

/** Each expected line appears in `lines`, in this order. */
function inOrder(lines: string[], expected: string[]): void {
  let at = 0;
  for (const e of expected) {
    const i = lines.indexOf(e, at);
    expect(i, `"${e}" after line ${at} of:\n${lines.join('\n')}`).toBeGreaterThanOrEqual(0);
    at = i + 1;
  }
}

const TRIGGER = '(inotify|poll|uevent|kmsg|counter)';

describe('README examples', () => {
  it('dist/ is built (npm test builds it first)', () => {
    expect(built).toBe(true);
  });

  it.skipIf(!built)('decode-format.mjs prints what its comments say', async () => {
    const r = run('decode-format.mjs', null);
    expect(await r.exit()).toBe(0);
    expect(r.out).toEqual(promised('decode-format.mjs'));
    expect(r.err).toEqual([]);
  });

  it.skipIf(!built)('the CLI output shown is what the CLI prints (report, --help)', () => {
    const cli = join(ROOT, 'bin/kernel-taint.cjs');
    const clean = spawnSync(process.execPath, [cli, '--path', taintFile('0\n')], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(clean.status).toBe(0);
    expect(clean.stdout).toBe(readFileSync(join(EXAMPLES, 'report-clean.txt'), 'utf8'));

    const kmsg = join(ROOT, 'test/fixtures/kmsg/bookworm-6.1.kmsg');
    const tainted = spawnSync(process.execPath, [cli, '--path', taintFile('4609\n'), '--kmsg', kmsg], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(tainted.status).toBe(1);
    // The wall-clock dates are the reading machine's boot time plus the log's timestamps.
    const undated = (s: string) => s.replace(/since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d /g, 'since DATE ');
    const shown = readFileSync(join(EXAMPLES, 'report-tainted.txt'), 'utf8');
    expect(undated(tainted.stdout)).toBe(undated(shown));
    expect(shown).toMatch(/since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(12\.0 s after boot\)/);

    const help = spawnSync(process.execPath, [cli, '--help'], {
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(readFileSync(join(EXAMPLES, 'cli-usage.txt'), 'utf8'));
  });

  describe.skipIf(!bind)('against a temp file mounted over /proc/sys/kernel/tainted', () => {
    it('quick-start.mjs: reads, parses, and reports the initial state then a new W', async () => {
      const f = taintFile('4097\n');
      const r = run('quick-start.mjs', f);
      try {
        await r.line(/^added PO via initial$/);
        inOrder(r.out, promised('quick-start.mjs'));
        writeFileSync(f, '4609\n');
        await r.line(new RegExp(`^added W via ${TRIGGER}$`));
        expect(r.err).toEqual([]);
      } finally {
        await r.stop();
      }
    });

    it('watch.mjs: the filter, async iteration, and close() ending the loop', async () => {
      const f = taintFile('4097\n'); // P and O: outside the filter
      const r = run('watch.mjs', f);
      await r.line(/^watching via /);
      await r.line(/^1 initial {2}PO$/); // nothing the filter counts was added
      writeFileSync(f, '4609\n');
      await r.line(new RegExp(`^2 ${TRIGGER} WARN PWO$`));
      writeFileSync(f, '4737\n'); // + D: the example closes the watcher
      await r.line(new RegExp(`^3 ${TRIGGER} DIE PDWO$`));
      expect(await r.exit()).toBe(0); // the loop ended and nothing kept the process alive
      expect(r.err).toEqual([]);
    });

    it('explain.mjs: every set bit, then what is not known', async () => {
      const r = run('explain.mjs', taintFile('4609\n'));
      expect(await r.exit()).toBe(0);
      expect(r.out[0]).toBe('Tainted: [P]=PROPRIETARY_MODULE, [W]=WARN, [O]=OOT_MODULE');
      expect(r.out.slice(1, 4).map((l) => l.split(' ')[0])).toEqual(['P', 'W', 'O']);
      expect(r.out.slice(4).every((l) => l.startsWith('not known: '))).toBe(true);
      expect(r.err).toEqual([]);
    });

    it('attribution.mjs: ready says why each source is not armed; a change prints its letters', async () => {
      const f = taintFile('4096\n');
      const r = run('attribution.mjs', f);
      try {
        await r.line(/reason: 'watchpoint: disabled by KERNEL_TAINT_ATTRIBUTION=off'/);
        await r.line(/^\[ 'O' \] null undefined$/);
        writeFileSync(f, '4608\n');
        await r.line(/^\[ 'W' \] null undefined$/);
      } finally {
        await r.stop();
      }
    });

    it('policy.mjs with taint-policy.json: warn, one reason per flag', async () => {
      const r = run('policy.mjs', taintFile('4097\n'));
      expect(await r.exit()).toBe(0);
      expect(r.out[0]).toBe('warn');
      expect(r.out[1]).toMatch(/^P warn PROPRIETARY_MODULE: integrity flag, warn/);
      // The allow rule for O names modules; none carries it, so O is not allowed.
      expect(r.out[2]).toMatch(/^O warn OOT_MODULE: .*allowed only for zfs, nvidia\*/);
      expect(r.err).toEqual([]);
    });

    it('health-http.mjs: /health follows the watcher, every other path is answered', async () => {
      const f = taintFile('4096\n');
      const r = run('health-http.mjs', f, { PORT: '0' });
      try {
        const url = (await r.line(/^health on /)).slice('health on '.length);
        const base = url.replace(/\/health$/, '');
        const get = (path: string, init?: RequestInit) =>
          fetch(base + path, { ...init, signal: AbortSignal.timeout(3000) });
        let res = await get('/health');
        expect(res.status).toBe(200);
        expect(res.headers.get('content-type')).toMatch(/^application\/health\+json/);
        expect((await res.json()).status).toBe('warn');
        expect((await get('/health?verbose=1')).status).toBe(200);
        for (const path of ['/', '/metrics', '/healthz', '/health/x']) expect((await get(path)).status).toBe(404);
        expect((await get('/health', { method: 'POST' })).status).toBe(405);
        writeFileSync(f, '4608\n'); // + W: a stability flag fails
        await expect.poll(async () => (await get('/health')).status, { timeout: 10_000 }).toBe(503);
        res = await get('/health');
        expect((await res.json()).status).toBe('fail');
      } finally {
        await r.stop();
      }
    });

    it('metrics-prometheus.mjs prints the series shown', async () => {
      const r = run('metrics-prometheus.mjs', taintFile('4096\n'));
      expect(await r.exit()).toBe(0);
      expect(`${r.out.join('\n')}\n`).toBe(readFileSync(join(EXAMPLES, 'metrics-prometheus.out'), 'utf8'));
    });

    it('journal.mjs writes the record shown (same fields, in order)', async () => {
      const f = taintFile('4096\n');
      const journal = join(tempDir(), 'taint.jsonl');
      const r = run('journal.mjs', f, { JOURNAL: journal });
      try {
        await expect
          .poll(() => existsSync(journal) && readFileSync(journal, 'utf8').includes('"letter":"O"'), {
            timeout: 10_000,
          })
          .toBe(true);
        writeFileSync(f, '4608\n');
        await r.line(new RegExp(`^kernel tainted: \\[W\\] WARN via ${TRIGGER}$`), 'err');
      } finally {
        await r.stop();
      }
      // The start record (O) was written before openTaintJournal returned: the listener saw only W.
      expect(r.err.filter((l) => l.startsWith('kernel tainted'))).toHaveLength(1);
      const records = readFileSync(journal, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(records.map((x) => [x.seq, x.letter, x.observedAt])).toEqual([
        [1, 'O', 'start'],
        [2, 'W', 'change'],
      ]);
      const shown = JSON.parse(readFileSync(join(EXAMPLES, 'journal-record.json'), 'utf8'));
      const w = records[1];
      expect(Object.keys(w)).toEqual(Object.keys(shown));
      for (const k of ['seq', 'bit', 'letter', 'name', 'category', 'observedAt', 'actor', 'cause'])
        expect(w[k]).toEqual(shown[k]);
      expect(w.trigger).toEqual({ kind: w.trigger.via, via: w.trigger.via });
      expect(w.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
    });
  });

  describe.skipIf(!bind || !existsSync(CHROMIUM))(
    'the Electron recipe (stand-ins, renderer in headless Chromium)',
    () => {
      it('main, preload and renderer agree; the panel is live, follows changes and unsubscribes', {
        timeout: 90_000,
      }, async () => {
        const app = tempDir('kernel-taint-electron-');
        for (const f of ['main.cjs', 'preload.cjs']) {
          writeFileSync(join(app, f), readFileSync(join(EXAMPLES, 'electron', f)));
        }
        mkdirSync(join(app, 'node_modules/electron'), { recursive: true });
        writeFileSync(
          join(app, 'node_modules/electron/index.js'),
          `module.exports = require(${JSON.stringify(join(ROOT, 'test/helpers/electron-standin.cjs'))});\n`,
        );
        symlinkSync(ROOT, join(app, 'node_modules/kernel-taint'));
        // The renderer, bundled as an app would, inlined (a file:// page cannot load module scripts).
        const bundle = async (input: string) => {
          const r = await build({
            input,
            platform: 'browser',
            resolve: { alias: { 'kernel-taint/panel': join(ROOT, 'dist/panel.mjs') } },
            logLevel: 'warn',
            write: false,
            output: { format: 'esm' },
          });
          return r.output[0].code;
        };
        const renderer = await bundle(join(EXAMPLES, 'electron/renderer.mjs'));
        // kernel-taint/panel is browser-safe: nothing of Node in the page's bundle.
        expect(renderer).not.toMatch(/\bnode:|createRequire/);
        writeFileSync(
          join(app, 'index.html'),
          `<!doctype html><html><head><title>app</title></head><body><div id="taint"></div><script type="module">${renderer}</script></body></html>\n`,
        );
        const globalEntry = join(app, 'panel-global.mjs');
        writeFileSync(
          globalEntry,
          "import { mountTaintPanel } from 'kernel-taint/panel';\nwindow.mountTaintPanel = mountTaintPanel;\n",
        );
        writeFileSync(join(app, 'panel-global.js'), (await bundle(globalEntry)).replace(/^export \{\};?$/m, ''));

        const f = taintFile('4096\n');
        const r = run(join(ROOT, 'test/fleet/fixtures/electron-recipe.cjs'), f, {}, [app, f]);
        const code = await r.exit(80_000);
        const result = JSON.parse(r.out.at(-1) ?? '{}');
        expect(result.error, r.err.join('\n')).toBeUndefined();
        expect(code, r.err.join('\n')).toBe(0);
        // The preload's API and main's handler use the same names.
        expect(result.exposed).toEqual(['snapshot', 'onUpdate']);
        expect(result.channels).toEqual(['kernel-taint:snapshot']);
        // Live (not "offline") from the first snapshot, through IPC.
        expect(result.first).toEqual({ live: 'live', status: 'warn', summary: 'Tainted: [O]=OOT_MODULE' });
        expect(result.second.live).toBe('live');
        expect(result.second.status).toBe('fail');
        expect(result.second.summary).toBe('Tainted: [W]=WARN, [O]=OOT_MODULE');
        expect(result.second.history[0]).toBe('+W WARN');
        // destroy() on unload called the preload's unsubscribe: no listener left.
        expect(result.listenersBefore).toBe(2);
        expect(result.unsubscribeCalled).toBe(true);
        expect(result.listenersAfter).toBe(0);
        expect(result.problems).toEqual([]);
        // A subscribe that returns what ipcRenderer.on returns (an object): live, and destroy() does not throw.
        expect(result.bare).toEqual({ live: 'live', destroyed: true, empty: true });
      });
    },
  );
});
