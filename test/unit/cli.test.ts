import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { COMMANDS, main } from '../../lib/cli/index.js';
import { parseTaint } from '../../lib/parse.js';
import { ROOT } from '../helpers/reference.js';
import { taintFile, tempDir } from '../helpers/tmp.js';

/**
 * The CLI in this process: main() with its output captured, stdin given as a
 * stream like the binary's. A child per case cost ~0.2 CPU-s each; the built
 * binary (process guards, exit status, no stack trace) is exercised in
 * test/integrations/cli*.test.ts and test/faults/cli.test.ts.
 */
async function cli(args: string[], opts: { input?: string; env?: NodeJS.ProcessEnv } = {}) {
  let out = '';
  let err = '';
  const input = opts.input ?? '';
  const code = await main(args, {
    out: (s) => {
      out += `${s}\n`;
    },
    err: (s) => {
      err += `${s}\n`;
    },
    isTTY: false,
    env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '', ...opts.env },
    stdin: async () => input,
    stdinStream: () => Readable.from([Buffer.from(input)]),
  });
  return { code, out, err };
}

describe('kernel-taint CLI', () => {
  it('reports this kernel and exits 0 when clean, 1 when tainted', async () => {
    const r = await cli([]);
    expect([0, 1]).toContain(r.code);
    expect(r.out).toMatch(/^(Not tainted|Tainted: value \d+)/);
  });

  it('explains every set flag of a file, exit 1', async () => {
    const r = await cli(['--path', taintFile('4609\n'), '--profile', 'mainline']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('Tainted: value 4609, letters PWO');
    expect(r.out).toMatch(/\[W\] WARN {2}bit 9, stability\n {6}The kernel issued a warning/);
    expect(r.out).not.toContain('\x1b[');
  });

  it('prints JSON', async () => {
    const r = await cli(['--json', '--path', taintFile('0')]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ value: 0, tainted: false, letters: '' });
  });

  it('decodes a value, with --profile', async () => {
    expect((await cli(['decode', '0'])).code).toBe(0);
    const r = await cli(['decode', '0x20000000', '--profile', 'rhel8', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).names).toEqual(['TECH_PREVIEW']);
  });

  it('parses a log from stdin, oldest first, then the verdict for the log, then this host', async () => {
    const log = [
      '[ 10.0] CPU: 0 PID: 1 Comm: a Tainted: G           O       6.1.0 #1',
      'noise',
      '[ 20.0] CPU: 0 PID: 1 Comm: b Tainted: G        W  O       6.1.0 #1',
    ].join('\n');
    const r = await cli(['parse', '--path', taintFile('0')], { input: log });
    expect(r.code).toBe(1);
    const lines = r.out.trim().split('\n');
    expect(lines[0]).toBe('line 1 header (kernel 6.1.0, comm a): Tainted: [O]=OOT_MODULE');
    expect(lines[1]).toBe('line 3 header (kernel 6.1.0, comm b): Tainted: [W]=WARN, [O]=OOT_MODULE');
    expect(lines[2]).toBe(
      'Log: Tainted: [W]=WARN, [O]=OOT_MODULE (newest report line 3; 2 reports; worst: stability at line 3)',
    );
    expect(lines[3]).toBe('This host now: Not tainted');
  });

  it('parses a file argument, --json as one compact line per report', async () => {
    const f = join(tempDir(), 'dmesg.txt');
    writeFileSync(
      f,
      'x Not tainted 6.1.0 #1\nModules linked in: foo(PO) bar\nCPU: 0 PID: 1 Comm: a Tainted: [H]=KILLSWITCH\n',
    );
    const r = await cli(['parse', f, '--json', '--path', taintFile('4096')]);
    const lines = r.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.type)).toEqual(['report', 'report', 'report', 'verdict', 'host']);
    expect(lines[0]).toMatchObject({ kind: 'header', release: '6.1.0', tainted: false, flags: [] });
    expect(lines[1]).toMatchObject({
      kind: 'modules',
      modules: [{ name: 'foo', letters: 'PO' }],
      flags: [
        { letter: 'P', bit: 0, name: 'PROPRIETARY_MODULE' },
        { letter: 'O', bit: 12, name: 'OOT_MODULE' },
      ],
    });
    expect(lines[1]).not.toHaveProperty('flags.0.description');
    expect(lines[2]).toMatchObject({ kind: 'verbose', unknownLetters: ['H'], unknownNames: { H: 'KILLSWITCH' } });
    expect(lines[3]).toMatchObject({ reports: 3, tainted: true, newestLine: 3 });
    expect(lines[4]).toMatchObject({ state: { value: 4096, flags: [{ letter: 'O' }] } });
    expect(r.code).toBe(1);
  });

  it("exits like parseTaint() answers, on the issue's logs", async () => {
    const logs = [
      'Tainted: [P]=PROPRIETARY_MODULE\nCPU: 0 PID: 1 Comm: a Not tainted 6.1.0 #1',
      "CPU: 0 PID: 1 Comm: a Tainted: P        W  O      6.1.0 #1\nRaw taint value as int/string: 0/'G'",
      'Pid: 912, comm: X Tainted: G            3.1.0-0.rc9.git0.0.fc16.x86_64 #1',
      'The kernel is Tainted: yes',
    ];
    for (const log of logs) {
      const r = await cli(['parse', '--path', taintFile('0')], { input: log });
      expect(r.code, log).toBe(parseTaint(log)?.tainted ? 1 : 0);
    }
    expect((await cli(['parse', '--path', taintFile('0')], { input: logs[2] })).code).toBe(1);
  });

  it('reports a missing file and a bad profile as coded errors, without a stack', async () => {
    const r = await cli(['parse', '/nonexistent/dmesg']);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/ENOENT/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  it('exits 2 with a message on errors and bad usage', async () => {
    expect(await cli(['--path', '/nonexistent/x'])).toMatchObject({ code: 2, err: expect.stringContaining('ENOENT') });
    expect(await cli(['decode', 'banana'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('ERR_KERNEL_TAINT_INVALID_VALUE'),
    });
    expect(await cli(['--frobnicate'])).toMatchObject({
      code: 2,
      err: expect.stringContaining('unknown option --frobnicate'),
    });
    expect(await cli(['--profile', 'windows'])).toMatchObject({
      code: 2,
      err: expect.stringContaining("unknown profile 'windows'"),
    });
    expect(await cli(['decode'])).toMatchObject({ code: 2 });
  });

  it('has --help and --version', async () => {
    expect(await cli(['--help'])).toMatchObject({ code: 0, out: expect.stringContaining('Usage:') });
    const v = await cli(['--version']);
    expect(v.code).toBe(0);
    expect(v.out.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('uses colour only when asked or on a TTY, and honours NO_COLOR', async () => {
    const run = async (isTTY: boolean, env: NodeJS.ProcessEnv, extra: string[] = []) => {
      let out = '';
      await main(['decode', '512', ...extra], {
        out: (s: string) => {
          out += s;
        },
        err: () => {},
        isTTY,
        env,
        stdin: async () => '',
      });
      return out;
    };
    const term = { TERM: 'xterm-256color' };
    expect(await run(true, term)).toContain('\x1b[');
    expect(await run(true, { ...term, NO_COLOR: '1' })).not.toContain('\x1b[');
    expect(await run(true, { TERM: 'dumb' })).not.toContain('\x1b[');
    expect(await run(false, term)).not.toContain('\x1b[');
    expect(await run(false, { FORCE_COLOR: '1' })).toContain('\x1b[');
    expect(await run(false, term, ['--color'])).toContain('\x1b[');
    expect(await run(true, term, ['--no-color'])).not.toContain('\x1b[');
  });
});

describe('README', () => {
  it('has the flag table generated from lib/flags.json', () => {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts/readme-flags.mjs'), '--check'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});

describe('kernel-taint command line (parseArgs declarations)', () => {
  const run = (argv: string[]) => cli(argv);

  it('generates --help from every command declaration', async () => {
    const { GLOBAL_OPTIONS } = await import('../../lib/cli/options.js');
    const help = (await run(['--help'])).out;
    for (const c of COMMANDS) {
      expect(help).toContain(`kernel-taint ${c.usage}`);
      const section = help.slice(
        help.indexOf(c.name === 'report' ? 'Options of the report' : `Options of kernel-taint ${c.name}:`),
      );
      const end = section.indexOf('\n\n');
      for (const o of c.options) expect(section.slice(0, end)).toContain(`--${o.name}`);
    }
    for (const o of GLOBAL_OPTIONS) expect(help).toContain(`--${o.name}`);
    // What --help used to miss.
    for (const [cmd, opt] of [
      ['watch', '--path'],
      ['check', '--path'],
      ['serve', '--path'],
      ['serve', '--interval'],
      ['serve', '--baseline'],
      ['report', '--color'],
    ]) {
      const r = await run([cmd === 'report' ? '--help' : cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toContain(opt);
    }
    expect((await run(['watch', '--help'])).out).toMatch(/^Usage: kernel-taint watch/m);
  });

  it('rejects options of another command and says whose they are', async () => {
    const r = await run(['check', '--port', '1']);
    expect(r).toMatchObject({ code: 2, err: expect.stringContaining('--port is not an option of check') });
    expect((await run(['decode', '1', '--path', 'x'])).err).toContain('--path is not an option of decode');
    expect((await run(['--exec', 'true'])).err).toContain('--exec is not an option of the report');
    expect((await run(['--path'])).err).toContain('--path needs a value');
    expect((await run(['--json=1'])).err).toContain('--json takes no value');
    expect((await run(['frob'])).err).toContain("unknown command 'frob'");
    expect((await run(['decode', '1', '2'])).code).toBe(2);
  });

  it('accepts options before or after the command, --opt=value, and -- before a dashed argument', async () => {
    expect(JSON.parse((await run(['--json', 'decode', '512'])).out).letters).toBe('W');
    expect(JSON.parse((await run(['decode', '--profile=RHEL8', '0x20000000', '--json'])).out).profile).toBe('rhel8');
    const dashed = await run(['decode', '--json', '--', '-1']);
    expect(dashed.code).toBe(2);
    expect(dashed.err).toContain('ERR_KERNEL_TAINT_INVALID_VALUE');
  });

  it('takes profile names in any case', async () => {
    const r = await run(['decode', '0x20000000', '--profile', 'Rhel8', '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.out).names).toEqual(['TECH_PREVIEW']);
    expect((await run(['decode', '1', '--profile', 'windows'])).err).toContain("unknown profile 'windows'");
  });

  it('keeps the serve default port equal to the library default', async () => {
    const { DEFAULT_SERVE_PORT } = await import('../../lib/integrations/serve.js');
    expect((await run(['serve', '--help'])).out).toContain(`default ${DEFAULT_SERVE_PORT})`);
  });
});
