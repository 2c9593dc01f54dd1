// Journal under faults: a full disk (a 64 KiB tmpfs in a private mount
// namespace), a read-only mount, two writers from two PID namespaces, and an
// fd limit of 32. Records lost must be 0.
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { until } from '../helpers/events.js';
import { tempDir } from '../helpers/tmp.js';
import { canUnshare, DIST, isRoot, runNode } from './helpers.js';

const mountNs = canUnshare(['-m']);
const pidNs = canUnshare(['-p', '-f', '--mount-proc']);
if (!mountNs || !pidNs) console.warn('faults/journal: skipped parts: needs root and unshare -m / -p (run as root)');

describe.skipIf(!mountNs)('journal on a full disk', () => {
  it('keeps failed records in memory, reports ENOSPC, writes them when space returns, leaks nothing', () => {
    const dir = tempDir();
    const script = `
      const { execFileSync } = require('node:child_process');
      const fs = require('node:fs');
      const dir = ${JSON.stringify(dir)};
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
      const { openTaintJournal, readTaintJournal } = require(process.env.DIST + '/journal.cjs');
      const { decodeTaint } = require(process.env.DIST + '/index.cjs');
      fs.writeFileSync(dir + '/boot_id', 'boot-1\\n');
      const fds = () => fs.readdirSync('/proc/self/fd').length;
      const before = fds();
      // Fill the disk.
      const filler = dir + '/filler';
      const fd = fs.openSync(filler, 'w');
      try { for (;;) fs.writeSync(fd, Buffer.alloc(4096)); } catch (e) { if (e.code !== 'ENOSPC') throw e; }
      fs.closeSync(fd);
      const errors = [];
      const j = openTaintJournal(dir + '/j.jsonl', { state: decodeTaint(0x3201), bootIdPath: dir + '/boot_id', env: {} });
      j.on('error', (e) => errors.push(e.code));
      const pendingWhileFull = j.pending;
      const lastError = j.lastError && j.lastError.code;
      let observeError = null;
      try { j.observe(decodeTaint(0x3203), { trigger: 'poll' }); } catch (e) { observeError = e.code; }
      const pendingAfter = j.pending;
      fs.unlinkSync(filler);
      setTimeout(async () => {
        const out = { pendingWhileFull, lastError, observeError, pendingAfter, errors, pendingLater: j.pending,
          seqs: readTaintJournal(dir + '/j.jsonl').records.map((r) => r.seq) };
        await j.close();
        const again = openTaintJournal(dir + '/j.jsonl', { state: decodeTaint(0x3203), bootIdPath: dir + '/boot_id', env: {} });
        out.reopenedSeq = again.seq;
        await again.close();
        out.fdLeak = fds() - before;
        console.log(JSON.stringify(out));
      }, 1500);
    `;
    const r = runNode(['unshare', '-m', '--propagation', 'private'], script);
    expect(r.err).toBe('');
    const out = JSON.parse(r.out);
    // 0x3201 = P, W, O, E: four records, none fits.
    expect(out.pendingWhileFull).toBe(4);
    expect(out.lastError).toBe('ENOSPC');
    expect(out.observeError).toBe('ENOSPC');
    expect(out.pendingAfter).toBe(5);
    expect(out.errors).toContain('ENOSPC');
    expect(out.pendingLater).toBe(0);
    // Records lost: 0, in order, no gaps.
    expect(out.seqs).toEqual([1, 2, 3, 4, 5]);
    expect(out.reopenedSeq).toBe(5);
    expect(out.fdLeak).toBe(0);
  });

  it('a read-only mount gives a coded system error naming the journal', () => {
    const dir = tempDir();
    const script = `
      const { execFileSync } = require('node:child_process');
      const dir = ${JSON.stringify(dir)};
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,ro', 'tmpfs', dir]);
      const { openTaintJournal } = require(process.env.DIST + '/journal.cjs');
      const { decodeTaint } = require(process.env.DIST + '/index.cjs');
      try { openTaintJournal(dir + '/j.jsonl', { state: decodeTaint(1), env: {} }); console.log('opened'); }
      catch (e) { console.log(JSON.stringify({ code: e.code, path: e.path, message: e.message })); }
    `;
    const r = runNode(['unshare', '-m', '--propagation', 'private'], script);
    const out = JSON.parse(r.out);
    expect(out.code).toBe('EROFS');
    expect(out.path).toBe(join(dir, 'j.jsonl'));
    expect(out.message).not.toMatch(/\.tmp|\.lock\.\d/);
  });
});

describe.skipIf(!pidNs)('journal: two writers from two PID namespaces', () => {
  it('the second writer gets ERR_KERNEL_TAINT_JOURNAL_LOCKED, even through a hard link', async () => {
    const dir = tempDir();
    const file = join(dir, 'j.jsonl');
    writeFileSync(join(dir, 'boot_id'), 'boot-1\n');
    const holder = `
      const { openTaintJournal } = require(process.env.DIST + '/journal.cjs');
      const { decodeTaint } = require(process.env.DIST + '/index.cjs');
      const j = openTaintJournal(${JSON.stringify(file)}, { state: decodeTaint(512), bootIdPath: ${JSON.stringify(join(dir, 'boot_id'))}, env: {} });
      console.log('ready ' + process.pid);
      setTimeout(() => j.close(), 8000);
    `;
    const a = spawn('unshare', ['-p', '-f', '--mount-proc', process.execPath, '-e', holder], {
      env: { ...process.env, DIST },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    a.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
    });
    await until(() => out.includes('ready'), 15_000, "the holder's ready line", {
      every: 50,
      details: () => `stdout: ${out}`,
    });
    expect(out).toMatch(/ready 1\b/); // pid 1 in its namespace: a pid file alone could not tell the two apart
    const hard = join(dir, 'hard.jsonl');
    linkSync(file, hard);
    const second = `
      const { openTaintJournal } = require(process.env.DIST + '/journal.cjs');
      const { decodeTaint } = require(process.env.DIST + '/index.cjs');
      for (const f of ${JSON.stringify([file, hard])}) {
        try { openTaintJournal(f, { state: decodeTaint(4608), env: {} }); console.log('OPENED'); }
        catch (e) { console.log(e.code); }
      }
    `;
    const b = runNode(['unshare', '-p', '-f', '--mount-proc'], second);
    a.kill('SIGKILL');
    expect(b.out.trim().split('\n')).toEqual(['ERR_KERNEL_TAINT_JOURNAL_LOCKED', 'ERR_KERNEL_TAINT_JOURNAL_LOCKED']);
  });
});

describe.skipIf(!isRoot)('fd limit of 32', () => {
  it('watchers and journals fail with a coded EMFILE, nothing crashes, and work resumes after closing', () => {
    const dir = tempDir();
    mkdirSync(join(dir, 'j'));
    writeFileSync(join(dir, 'tainted'), '0\n');
    const script = `
      const { watchTaint, readTaint } = require(process.env.DIST + '/index.cjs');
      const { openTaintJournal } = require(process.env.DIST + '/journal.cjs');
      const open = []; let err = null;
      for (let i = 0; i < 64 && !err; i++) {
        try {
          open.push(watchTaint({ path: ${JSON.stringify(join(dir, 'tainted'))}, persistent: false }));
          open.push(openTaintJournal(${JSON.stringify(join(dir, 'j'))} + '/j' + i + '.jsonl', { state: readTaint({ path: ${JSON.stringify(join(dir, 'tainted'))} }), env: {} }));
        } catch (e) { err = { code: e.code, name: e.name }; }
      }
      Promise.all(open.map((o) => o.close())).then(() => {
        const v = readTaint({ path: ${JSON.stringify(join(dir, 'tainted'))} }).value;
        console.log(JSON.stringify({ opened: open.length, err, after: v }));
      });
    `;
    const r = runNode(['prlimit', '--nofile=32:32'], script);
    expect(r.err).not.toMatch(/\n\s+at /);
    const out = JSON.parse(r.out);
    expect(out.err?.code).toBe('EMFILE');
    expect(out.after).toBe(0);
  });
});
