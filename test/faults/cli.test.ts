// EPIPE on every CLI command: stdout closed before the command writes. The
// command exits 141 (as SIGPIPE would), quietly: no stack trace on stderr.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BIN } from './helpers.js';

function closedStdout(args: string[]): Promise<{ code: number | null; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    // Closed before node has even started: its first write gets EPIPE.
    child.stdout.destroy();
    let err = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      err += d;
    });
    const kill = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('close', (code) => {
      clearTimeout(kill);
      resolve({ code, err });
    });
  });
}

describe('EPIPE on every command', () => {
  // One directory for the whole describe (tempDir() is emptied after each test).
  const dir = mkdtempSync(join(tmpdir(), 'kernel-taint-epipe-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tainted');
  writeFileSync(file, '4096\n');
  const log = join(dir, 'big.log');
  writeFileSync(log, 'CPU: 0 PID: 1 Comm: x Tainted: G W 6.1.0 #1\n'.repeat(20_000));
  const cases: Array<[string, string[]]> = [
    ['report', ['--path', file]],
    ['report --json', ['--json', '--path', file]],
    ['decode', ['decode', '4096']],
    ['parse', ['parse', log, '--path', file]],
    ['watch', ['watch', '--json', '--path', file]],
    ['check', ['check', '--path', file]],
    ['serve', ['serve', '--port', '0', '--path', file]],
    ['help', ['--help']],
    ['version', ['--version']],
  ];
  for (const [name, args] of cases) {
    it(name, async () => {
      const r = await closedStdout(args);
      expect(r.err).not.toMatch(/\n\s+at |Error:/);
      expect(r.code).toBe(141);
    });
  }
});
