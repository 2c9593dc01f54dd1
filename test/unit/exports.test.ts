// The package layout: `.` is the core, integrations live behind subpaths,
// each entry resolves for require and import (through the package's own
// "exports", by name).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/reference.js';
import { taintFile } from '../helpers/tmp.js';

const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

function node(args: string[]) {
  const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 15_000 });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

// What each subpath must export (and the core must not).
const SUBPATHS: Record<string, string[]> = {
  health: ['createHealthCheck', 'healthHandler', 'classifyTaint', 'loadTaintPolicy', 'bootBaseline'],
  metrics: ['formatPrometheus', 'collectTaintMetrics', 'observeTaintMetrics', 'taintMetricNames'],
  journal: ['openTaintJournal', 'readTaintJournal', 'parseJournalMode'],
  serve: ['serveTaint', 'createTaintPanelFeed', 'DEFAULT_SERVE_PORT'],
  panel: ['mountTaintPanel', 'renderTaintPanelHtml'],
};
const CORE = ['readTaint', 'readTaintValue', 'decodeTaint', 'formatTaint', 'parseTaint', 'parseTaintLog', 'watchTaint'];

// Keys of the core and of every subpath, loaded in one child per module system
// (a child per entry and system cost ~10 node starts). Which network modules
// that child loaded proves the check below can fail (the serve entry loads node:http).
const NET = `process.moduleLoadList.filter((m) => /^NativeModule (https?|_http_\\w+|net|tls|child_process)$/.test(m))`;
const ENTRIES = [PKG.name, ...Object.keys(SUBPATHS).map((s) => `${PKG.name}/${s}`)];
const keysBy = (load: string) =>
  `const out = {}; for (const e of ${JSON.stringify(ENTRIES)}) out[e] = Object.keys(${load}(e)); out.net = ${NET}; console.log(JSON.stringify(out));`;

describe('package entry points', () => {
  let cjs: Record<string, string[]>;
  let esm: Record<string, string[]>;
  beforeAll(() => {
    cjs = node(['-e', keysBy('require')]);
    esm = node(['--input-type=module', '-e', `await (async () => { ${keysBy('await import')} })()`]);
  });

  it('declares ESM, CJS and types for the core and every subpath', () => {
    expect(Object.keys(PKG.exports).sort()).toEqual(
      ['.', './package.json', ...Object.keys(SUBPATHS).map((s) => `./${s}`)].sort(),
    );
  });

  for (const [sub, names] of Object.entries(SUBPATHS)) {
    it(`kernel-taint/${sub} loads by require and import and the core does not carry it`, () => {
      const spec = `${PKG.name}/${sub}`;
      for (const n of names) {
        expect(cjs[spec]).toContain(n);
        expect(esm[spec]).toContain(n);
        expect(cjs[PKG.name]).not.toContain(n);
        expect(esm[PKG.name]).not.toContain(n);
      }
    });
  }

  it('the core exports the core and none of the integrations', () => {
    for (const n of CORE) expect(cjs[PKG.name]).toContain(n);
    for (const n of CORE) expect(esm[PKG.name]).toContain(n);
    for (const n of Object.values(SUBPATHS).flat()) expect(cjs[PKG.name]).not.toContain(n);
  });

  it('importing the core loads no HTTP or network module (CJS and ESM)', () => {
    // A fresh child per module system: nothing else loaded first.
    expect(node(['-e', `require(${JSON.stringify(PKG.name)}); console.log(JSON.stringify(${NET}))`])).toEqual([]);
    expect(
      node([
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(PKG.name)}); console.log(JSON.stringify(${NET}))`,
      ]),
    ).toEqual([]);
    // The check itself can fail: the children that loaded every entry (serve included) loaded node:http.
    expect(cjs.net).toContain('NativeModule http');
    expect(esm.net).toContain('NativeModule http');
  });

  // Issue #15: importing the core loads at most 40 kB of JS. The parser, the
  // watcher, explainTaint, the kmsg decoders and the module list load on
  // first use (lib/parts.ts), and `import` runs the same CommonJS files as
  // `require` (dist/*.mjs wrap them), so a part's errors are the core's classes.
  const CORE_JS_LIMIT = 40_000;
  // The dist/ files a child has loaded (CommonJS cache; the ESM wrapper is added by the ESM probe).
  const LOADED = `Object.keys(require('node:module')._cache).filter((f) => f.startsWith(${JSON.stringify(join(ROOT, 'dist'))}) && /\\.c?js$/.test(f)).map((f) => [f.slice(${join(ROOT, 'dist').length + 1}), require('node:fs').statSync(f).size])`;

  it('importing the core and reading loads ≤ 40 kB of JS (require and import), and no part', () => {
    const cjs: [string, number][] = node([
      '-e',
      `const k = require(${JSON.stringify(PKG.name)}); k.readTaint(); k.decodeTaint(1); k.formatTaint(1); console.log(JSON.stringify(${LOADED}))`,
    ]);
    const esm: [string, number][] = node([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);
       const k = await import(${JSON.stringify(PKG.name)}); k.readTaint(); k.decodeTaint(1); k.formatTaint(1);
       const own = require.resolve(${JSON.stringify(PKG.name)}).replace(/[.]cjs$/, '.mjs');
       console.log(JSON.stringify([...${LOADED}, ['index.mjs', require('node:fs').statSync(own).size]]))`,
    ]);
    for (const loaded of [cjs, esm]) {
      const names = loaded.map(([f]) => f);
      expect(names).toContain('index.cjs');
      for (const part of ['parse.cjs', 'watch.cjs', 'explain.cjs', 'kmsg-cause.cjs', 'modules.cjs']) {
        expect(names).not.toContain(part);
      }
      const bytes = loaded.reduce((n, [, size]) => n + size, 0);
      expect(bytes, `${JSON.stringify(loaded)}`).toBeGreaterThan(5_000);
      expect(bytes, `${JSON.stringify(loaded)}`).toBeLessThanOrEqual(CORE_JS_LIMIT);
    }
    expect(esm.map(([f]) => f)).toContain('index.mjs');
  });

  it('a lazily loaded part loads on first use and throws the core classes, for import and require alike', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);
       const esm = await import(${JSON.stringify(PKG.name)}); const cjs = require(${JSON.stringify(PKG.name)});
       const before = ${LOADED}.map(([f]) => f);
       let err; try { esm.parseTaint('Tainted: G', { profile: 'no-such-profile' }); } catch (e) { err = e; }
       const w = esm.watchTaint({ path: '/proc/sys/kernel/tainted', triggers: ['poll'], interval: 0 });
       const watcher = { esm: w instanceof esm.TaintWatcher, cjs: w instanceof cjs.TaintWatcher, name: esm.TaintWatcher.name };
       w.close();
       class Mine extends cjs.TaintVerdict {}
       // TaintWatcher is a lazily loaded class: extends and new reach the real one (its constructor's own check here).
       class MyWatcher extends esm.TaintWatcher {}
       let ctor; try { new esm.TaintWatcher({}, {}); } catch (e) { ctor = e.code; }
       const subclass = Object.getPrototypeOf(MyWatcher.prototype) === cjs.TaintWatcher.prototype;
       console.log(JSON.stringify({ before, after: ${LOADED}.map(([f]) => f), code: err?.code,
         esm: err instanceof esm.KernelTaintError, cjs: err instanceof cjs.KernelTaintError, same: esm.KernelTaintError === cjs.KernelTaintError,
         parsed: esm.parseTaint('Tainted: G        W').letters, watcher, verdict: new Mine() instanceof esm.TaintVerdict, subclass, ctor }));`,
    ]);
    expect(out.before).not.toContain('parse.cjs');
    expect(out.before).not.toContain('watch.cjs');
    expect(out.after).toContain('parse.cjs');
    expect(out.after).toContain('watch.cjs');
    expect(out).toMatchObject({
      code: 'ERR_KERNEL_TAINT_INVALID_ARG',
      esm: true,
      cjs: true,
      same: true,
      parsed: 'W',
      watcher: { esm: true, cjs: true, name: 'TaintWatcher' },
      verdict: true,
      subclass: true,
      ctor: 'ERR_KERNEL_TAINT_INVALID_ARG',
    });
  });

  // `kernel-taint --json` (the report) loads what the report needs: not the
  // watcher, the stream parser, child_process or a server; the log reader only
  // when a bit is set. (node:net is not checked: a piped stdout, as here, is a socket.)
  function cliLoads(path: string) {
    const r = spawnSync(
      process.execPath,
      [
        '-e',
        `process.on('exit', () => process.stderr.write('\\nKT_LOADED ' + JSON.stringify({ files: ${LOADED}.map(([f]) => f),
           builtins: process.moduleLoadList.filter((m) => /^NativeModule (https?|child_process)$/.test(m)) }) + '\\n'));
         process.argv = [process.argv[0], 'kernel-taint', '--json', '--path', ${JSON.stringify(path)}];
         require(${JSON.stringify(join(ROOT, 'bin/kernel-taint.cjs'))});`,
      ],
      { cwd: ROOT, encoding: 'utf8', timeout: 15_000 },
    );
    const m = /KT_LOADED (.*)/.exec(r.stderr);
    if (!m) throw new Error(`kernel-taint --json exited ${r.status}: ${r.stderr}`);
    return {
      status: r.status,
      report: JSON.parse(r.stdout),
      ...(JSON.parse(m[1]) as { files: string[]; builtins: string[] }),
    };
  }

  it('kernel-taint --json loads neither the watcher nor the parser, and the log reader only for a tainted value', () => {
    const clean = cliLoads(taintFile('0\n'));
    expect(clean.status).toBe(0);
    expect(clean.report).toMatchObject({ value: 0, tainted: false, explanation: { bits: [], limits: [] } });
    expect(clean.files).toContain('cli.cjs');
    for (const part of ['watch.cjs', 'parse.cjs', 'explain.cjs', 'kmsg-cause.cjs'])
      expect(clean.files).not.toContain(part);
    expect(clean.builtins).toEqual([]);
    const tainted = cliLoads(taintFile('4097\n'));
    expect(tainted.status).toBe(1);
    expect(tainted.report.letters).toBe('PO');
    expect(tainted.report.explanation.bits.map((b: { flag: { letter: string } }) => b.flag.letter)).toEqual(['P', 'O']);
    expect(tainted.files).toContain('explain.cjs');
    for (const part of ['watch.cjs', 'parse.cjs']) expect(tainted.files).not.toContain(part);
    expect(tainted.builtins).toEqual([]);
  });
});
