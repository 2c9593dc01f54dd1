// The package layout: `.` is the core, integrations live behind subpaths,
// each entry resolves for require and import (through the package's own
// "exports", by name).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/reference.js';

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

describe('package entry points', () => {
  it('declares ESM, CJS and types for the core and every subpath', () => {
    expect(Object.keys(PKG.exports).sort()).toEqual(
      ['.', './package.json', ...Object.keys(SUBPATHS).map((s) => `./${s}`)].sort(),
    );
  });

  for (const [sub, names] of Object.entries(SUBPATHS)) {
    it(`kernel-taint/${sub} loads by require and import and the core does not carry it`, async () => {
      const spec = `${PKG.name}/${sub}`;
      const cjs = node(['-e', `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(spec)}))))`]);
      const esm = node([
        '--input-type=module',
        '-e',
        `console.log(JSON.stringify(Object.keys(await import(${JSON.stringify(spec)}))))`,
      ]);
      for (const n of names) {
        expect(cjs).toContain(n);
        expect(esm).toContain(n);
      }
    });
  }

  it('the core exports the core and none of the integrations', () => {
    const core: string[] = node([
      '-e',
      `console.log(JSON.stringify(Object.keys(require(${JSON.stringify(PKG.name)}))))`,
    ]);
    for (const n of CORE) expect(core).toContain(n);
    for (const n of Object.values(SUBPATHS).flat()) expect(core).not.toContain(n);
  });

  it('importing the core loads no HTTP or network module (CJS and ESM)', () => {
    const check = `.filter((m) => /^NativeModule (https?|_http_\\w+|net|tls|child_process)$/.test(m))`;
    const cjs = node([
      '-e',
      `require(${JSON.stringify(PKG.name)}); console.log(JSON.stringify(process.moduleLoadList${check}))`,
    ]);
    expect(cjs).toEqual([]);
    const esm = node([
      '--input-type=module',
      '-e',
      `await import(${JSON.stringify(PKG.name)}); console.log(JSON.stringify(process.moduleLoadList${check}))`,
    ]);
    expect(esm).toEqual([]);
    // The check itself can fail: the serve entry does load node:http.
    const serve = node([
      '-e',
      `require('${PKG.name}/serve'); console.log(JSON.stringify(process.moduleLoadList${check}))`,
    ]);
    expect(serve).toContain('NativeModule http');
  });
});
