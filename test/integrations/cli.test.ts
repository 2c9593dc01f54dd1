// The watch, check and serve subcommands, run from the built CLI.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../lib/cli/index.js';
import { readTaintJournal } from '../../lib/integrations/journal.js';
import { ROOT } from '../helpers/reference.js';
import { taintFile, tempDir } from '../helpers/tmp.js';
import { until } from './helpers.js';

const BIN = join(ROOT, 'bin/kernel-taint.cjs');

function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '', ...env },
    timeout: 15_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function startCli(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child: ChildProcess = spawn(process.execPath, [BIN, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NO_COLOR: '', ...env },
  });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
  });
  const exited = new Promise<number | null>((r) => child.once('close', (code) => r(code)));
  return {
    out: () => out,
    err: () => err,
    stop: async (sig: NodeJS.Signals = 'SIGINT') => {
      child.kill(sig);
      return exited;
    },
  };
}

function policyFile(policy: unknown): string {
  const p = join(tempDir(), 'policy.json');
  writeFileSync(p, typeof policy === 'string' ? policy : JSON.stringify(policy));
  return p;
}

describe.skipIf(!existsSync(join(ROOT, 'dist/cli.cjs')))('kernel-taint check', () => {
  it('exits by status: 0 pass, 0 warn (1 with --fail-on warn), 1 fail', () => {
    const base = ['check', '--profile', 'mainline', '--path'];
    const pass = cli([...base, taintFile('0')]);
    expect(pass.code).toBe(0);
    expect(pass.out).toBe('PASS: Not tainted\n');
    const warn = cli([...base, taintFile('4096')]);
    expect(warn.code).toBe(0);
    expect(warn.out).toContain('WARN: Tainted: [O]=OOT_MODULE\n  [O] warn: OOT_MODULE: integrity flag, warn');
    expect(cli([...base, taintFile('4096'), '--fail-on', 'warn']).code).toBe(1);
    const fail = cli([...base, taintFile('512')]);
    expect(fail.code).toBe(1);
    expect(fail.out).toMatch(/^FAIL: /);
  });

  it('applies --policy, and prints --json', () => {
    const p = policyFile({ flags: { W: 'warn' }, allow: ['O'] });
    const r = cli(['check', '--policy', p, '--path', taintFile('4608'), '--profile', 'mainline', '--json']);
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({ status: 'warn', value: 4608, letters: 'WO', baseline: null });
    expect(j.reasons.map((x: { letter: string; rule: string }) => [x.letter, x.rule])).toEqual([
      ['W', 'flag'],
      ['O', 'allow'],
    ]);
  });

  it('exits 2 with the error code on a bad policy', () => {
    const r = cli(['check', '--policy', policyFile({ allow: ['NO_SUCH_FLAG'] }), '--path', taintFile('0')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('allow[0]');
    expect(r.err).toContain('(ERR_KERNEL_TAINT_INVALID_POLICY)');
    expect(cli(['check', '--policy', policyFile('{nope'), '--path', taintFile('0')]).code).toBe(2);
  });

  it('--baseline records the first value of the boot and then ignores those bits', () => {
    const dir = tempDir();
    const baseline = join(dir, 'baseline.json');
    const bootId = join(dir, 'boot_id');
    writeFileSync(bootId, 'boot-1\n');
    const env = { KERNEL_TAINT_BOOT_ID_PATH: bootId };
    const path = taintFile('512');
    const first = cli(['check', '--baseline', baseline, '--path', path, '--profile', 'mainline'], env);
    expect(first.code).toBe(0);
    expect(first.out).toContain(`baseline recorded in ${baseline}: value 512`);
    expect(JSON.parse(readFileSync(baseline, 'utf8'))).toMatchObject({ bootId: 'boot-1', value: 512 });
    writeFileSync(path, String(512 | 16)); // + M: hardware, fail
    const later = cli(['check', '--baseline', baseline, '--path', path, '--profile', 'mainline', '--json'], env);
    expect(later.code).toBe(1);
    expect(JSON.parse(later.out)).toMatchObject({
      status: 'fail',
      baseline: { value: 512, created: false },
      reasons: [
        { letter: 'M', status: 'fail' },
        { letter: 'W', status: 'pass', rule: 'baseline' },
      ],
    });
    writeFileSync(bootId, 'boot-2\n'); // reboot: re-armed
    expect(cli(['check', '--baseline', baseline, '--path', path, '--profile', 'mainline'], env).code).toBe(0);
  });

  it('rejects options of other commands and arguments', () => {
    expect(cli(['check', '--port', '1']).code).toBe(2);
    expect(cli(['--policy', 'x']).err).toContain('--policy is not an option of the report');
    expect(cli(['watch', 'extra']).code).toBe(2);
    expect(cli(['check', '--fail-on', 'pass', '--path', taintFile('0')]).code).toBe(2);
    expect(cli(['serve', '--port', 'http']).code).toBe(2);
  });

  it('documents the subcommands in --help', () => {
    const r = cli(['--help']);
    for (const s of ['kernel-taint watch', 'kernel-taint check', 'kernel-taint serve', '--journal-mode']) {
      expect(r.out).toContain(s);
    }
  });
});

describe.skipIf(!existsSync(join(ROOT, 'dist/cli.cjs')))('kernel-taint watch', () => {
  it('streams --json lines, runs --exec per change and writes the --journal', { timeout: 20_000 }, async () => {
    const dir = tempDir();
    const path = taintFile('0');
    const execOut = join(dir, 'exec.log');
    const journal = join(dir, 'journal.jsonl');
    const w = startCli([
      'watch',
      '--json',
      '--path',
      path,
      '--profile',
      'mainline',
      '--interval',
      '100',
      '--exec',
      `printf '%s %s|' "$KERNEL_TAINT_ADDED" "$KERNEL_TAINT_VALUE" >> ${execOut}; cat >> ${execOut}`,
      '--journal',
      journal,
    ]);
    await until(() => w.out().includes('"trigger":"initial"'), 10_000, 'initial line');
    writeFileSync(path, '512\n');
    await until(() => w.out().includes('"value":512'), 10_000, 'change line');
    writeFileSync(path, '4608\n');
    await until(() => existsSync(execOut) && readFileSync(execOut, 'utf8').includes('O 4608|'), 10_000, 'exec');
    expect(await w.stop('SIGINT')).toBe(0);
    const lines = w
      .out()
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.trigger === 'initial' ? 'initial' : 'change', l.value])).toEqual([
      ['initial', 0],
      ['change', 512],
      ['change', 4608],
    ]);
    expect(lines[1].added).toEqual([{ bit: 9, letter: 'W', name: 'WARN', category: 'stability' }]);
    expect(lines[1].unattributable).toEqual(['W']);
    const log = readFileSync(execOut, 'utf8');
    expect(log).toContain('W 512|{"seq":2');
    expect(log).toContain('O 4608|{"seq":3');
    const recs = readTaintJournal(journal).records;
    expect(recs.map((r) => [r.seq, r.letter])).toEqual([
      [1, 'W'],
      [2, 'O'],
    ]);
    expect(existsSync(`${journal}.lock`)).toBe(false);
  });

  it('prints human lines and stops on SIGTERM; --journal-mode disabled writes nothing', {
    timeout: 20_000,
  }, async () => {
    const dir = tempDir();
    const path = taintFile('0');
    const journal = join(dir, 'journal.jsonl');
    const w = startCli(
      ['watch', '--path', path, '--profile', 'mainline', '--journal', journal, '--journal-mode', 'disabled'],
      {},
    );
    await until(() => w.err().includes('watching'), 10_000, 'ready');
    writeFileSync(path, '512\n');
    await until(() => w.out().includes('+W (WARN) via'), 10_000, 'change line');
    expect(await w.stop('SIGTERM')).toBe(0);
    expect(w.out()).toMatch(/initial: Not tainted\n.*\+W \(WARN\) via (inotify|poll): Tainted: \[W\]=WARN\n$/);
    expect(existsSync(journal)).toBe(false);
  });

  it('reports an unreadable path with exit 2', () => {
    const r = cli(['watch', '--path', join(tempDir(), 'missing')]);
    expect(r.code).toBe(2);
    expect(r.err).toContain('ENOENT');
  });

  it('stops on an abort signal in process (main with io.signal)', async () => {
    const out: string[] = [];
    const ac = new AbortController();
    const run = main(['watch', '--json', '--path', taintFile('4096'), '--profile', 'mainline'], {
      out: (s) => out.push(s),
      err: () => {},
      isTTY: false,
      env: {},
      stdin: async () => '',
      signal: ac.signal,
    });
    await until(() => out.length > 0, 5000, 'initial');
    ac.abort();
    expect(await run).toBe(0);
    expect(JSON.parse(out[0])).toMatchObject({ trigger: 'initial', letters: 'O' });
  });
});

describe.skipIf(!existsSync(join(ROOT, 'dist/cli.cjs')))('kernel-taint serve', () => {
  it('serves on loopback until SIGINT', { timeout: 20_000 }, async () => {
    const s = startCli(['serve', '--port', '0', '--path', taintFile('0'), '--profile', 'mainline']);
    const url = (await until(
      () => /serving on (http:\/\/127\.0\.0\.1:\d+)\//.exec(s.out())?.[1],
      10_000,
      'url',
    )) as string;
    const r = await fetch(`${url}/health`);
    expect(r.status).toBe(200);
    expect(await r.json()).toMatchObject({ status: 'pass' });
    expect(await s.stop('SIGINT')).toBe(0);
  });
});
