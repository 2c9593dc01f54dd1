// Crash safety of the journal: a writer child is killed with SIGKILL at
// random moments, again and again, then a last one runs to the end. The file
// must hold every committed record exactly once, seq 1..N without gaps, and
// each bit once per boot.
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTaintJournal } from '../../lib/integrations/journal.js';
import { ROOT } from '../helpers/reference.js';
import { tempDir } from '../helpers/tmp.js';

const WRITER = join(ROOT, 'test/integrations/fixtures/journal-writer.mjs');
const DIST = join(ROOT, 'dist/index.mjs');
const BITS = 20;
const BOOTS = 150;
const KILLS = 30;

const bootName = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

interface Run {
  stdout: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ms from the spawn to the writer's `open` line (NaN when it never came). */
  startup: number;
  /** ms from the `open` line to the exit (NaN when it never came). */
  writing: number;
}

/**
 * Runs a writer. `kill` says when to SIGKILL it: `{ afterOpen: ms }` counts
 * from its `open` line (mid-write), `{ afterSpawn: ms }` from the spawn
 * (start-up, recovery), `null` lets it finish.
 */
function runWriter(dir: string, kill: { afterOpen: number } | { afterSpawn: number } | null): Promise<Run> {
  return new Promise((resolve, reject) => {
    const spawned = performance.now();
    let opened = Number.NaN;
    const child = spawn(process.execPath, [WRITER, dir, String(BOOTS)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timer: NodeJS.Timeout | null = null;
    const arm = (ms: number) => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), ms);
    };
    if (kill && 'afterSpawn' in kill) arm(kill.afterSpawn);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      stdout += d;
      if (Number.isNaN(opened) && stdout.startsWith('open ')) opened = performance.now();
      if (kill && 'afterOpen' in kill && stdout.startsWith('open ')) arm(kill.afterOpen);
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const guard = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    // 'close' waits for the pipes and the exit: the pid is reaped, so the
    // next writer sees the lock of a dead process.
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      clearTimeout(guard);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`writer failed (${code}): ${stderr}`));
      else resolve({ stdout, code, signal, startup: opened - spawned, writing: performance.now() - opened });
    });
  });
}

describe.skipIf(!existsSync(DIST))('journal under kill -9 (needs dist/: npm run build:ts)', () => {
  it('never loses or duplicates a record', { timeout: 120_000 }, async () => {
    const world = () => {
      const d = tempDir();
      writeFileSync(join(d, 'tainted'), '0');
      writeFileSync(join(d, 'boot_id'), `${bootName(0)}\n`);
      return d;
    };
    // Kill windows scale with this machine's speed: one undisturbed run says how
    // long the whole world takes to write, and a mid-write kill lands within
    // 1/25 of that after the open, so that about 50 kills would be needed to
    // finish: the loop reaches KILLS with the world unfinished on a fast disk
    // and a slow one alike.
    const calibration = await runWriter(world(), null);
    expect(calibration.stdout).toContain('done');
    const window = Math.max(5, calibration.writing / 25);
    const dir = world();
    const committed = new Map<number, string>();
    let kills = 0;
    let midWrite = 0;
    let done = false;
    const collect = (r: Run) => {
      for (const line of r.stdout.split('\n')) {
        const m = /^C (\d+) (\S+) (\d+)$/.exec(line);
        if (!m) continue;
        const seq = Number(m[1]);
        // The same seq committed twice with different content would be a duplicate.
        const key = `${m[2]} ${m[3]}`;
        expect(committed.get(seq) ?? key).toBe(key);
        committed.set(seq, key);
      }
      if (r.stdout.includes('\ndone\n') || r.stdout.startsWith('done')) done = true;
    };
    while (!done && kills < KILLS) {
      // Mostly mid-write; one in four anywhere from start-up through recovery.
      const r = await runWriter(
        dir,
        Math.random() < 0.25
          ? { afterSpawn: Math.floor(Math.random() * (calibration.startup + window)) }
          : { afterOpen: Math.floor(Math.random() * window) },
      );
      if (r.signal === 'SIGKILL') kills++;
      // Killed after the journal was open: in the middle of the write loop.
      if (r.signal === 'SIGKILL' && r.stdout.startsWith('open ')) midWrite++;
      collect(r);
    }
    const last = await runWriter(dir, null);
    collect(last);
    expect(done).toBe(true);
    expect(kills).toBeGreaterThan(10);
    expect(midWrite).toBeGreaterThan(kills / 2);

    const { records, tornBytes, skippedLines } = readTaintJournal(join(dir, 'journal.jsonl'));
    expect(tornBytes).toBe(0);
    expect(skippedLines).toBe(0);
    // seq 1..N, in file order, no gap, no repeat.
    expect(records.map((r) => r.seq)).toEqual(Array.from({ length: records.length }, (_, i) => i + 1));
    // Each bit exactly once per boot, for every boot the world went through.
    const keys = records.map((r) => `${r.bootId} ${r.bit}`);
    expect(new Set(keys).size).toBe(keys.length);
    expect(records.length).toBe(BOOTS * BITS);
    for (let b = 0; b < BOOTS; b++) {
      const bits = records.filter((r) => r.bootId === bootName(b)).map((r) => r.bit);
      expect(bits.sort((x, y) => x - y)).toEqual(Array.from({ length: BITS }, (_, i) => i));
    }
    // Every record a writer reported as committed is there, unchanged.
    const bySeq = new Map(records.map((r) => [r.seq, `${r.bootId} ${r.bit}`]));
    for (const [seq, key] of committed) expect(bySeq.get(seq)).toBe(key);
    expect(existsSync(join(dir, 'journal.jsonl.lock'))).toBe(false);
  });
});
