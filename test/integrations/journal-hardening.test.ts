// The journal must never damage a file it does not own, never follow a
// planted link, let exactly one writer in whatever name it is opened by, and
// refuse corrupt input with a coded error instead of guessing.
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { bootBaseline } from '../../lib/integrations/boot.js';
import {
  MAX_JOURNAL_BYTES,
  openTaintJournal,
  readTaintJournal,
  type TaintJournal,
  type TaintJournalOptions,
} from '../../lib/integrations/journal.js';
import { tempDir } from '../helpers/tmp.js';
import { mainline } from './helpers.js';

const W = 1 << 9;
const O = 1 << 12;

const open: TaintJournal[] = [];
afterEach(async () => {
  for (const j of open.splice(0)) await j.close().catch(() => {});
});

function world() {
  const dir = tempDir();
  const bootIdPath = join(dir, 'boot_id');
  writeFileSync(bootIdPath, 'boot-1\n');
  return { dir, file: join(dir, 'taint.jsonl'), bootIdPath };
}

function openJ(file: string, opts: TaintJournalOptions = {}): TaintJournal {
  const j = openTaintJournal(file, { env: {}, ...opts });
  open.push(j);
  return j;
}

const code = (c: string) => expect.objectContaining({ code: c });

describe('journal: files it must not damage', () => {
  it('refuses a file that is not a journal and leaves every byte', () => {
    const w = world();
    const cases: Array<[string, Buffer]> = [
      ['no newline', Buffer.from('x'.repeat(5000))],
      ['binary', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131) % 256))],
      ['text', Buffer.from('hello\nworld\n')],
      ['json but not records', Buffer.from('{"a":1}\n')],
      ['seq Infinity', Buffer.from('{"seq":1e999,"bit":9,"bootId":"b"}\n')],
      ['seq 2^53', Buffer.from(`{"seq":${2 ** 53},"bit":9,"bootId":"b"}\n`)],
      ['seq 0', Buffer.from('{"seq":0,"bit":9,"bootId":"b"}\n')],
      ['bit 99', Buffer.from('{"seq":1,"bit":99,"bootId":"b"}\n')],
      ['a record then garbage tail', Buffer.from('{"seq":1,"bit":9,"bootId":"b"}\nGARBAGE-NOT-A-RECORD')],
    ];
    for (const [what, bytes] of cases) {
      writeFileSync(w.file, bytes);
      expect(() => openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath }), what).toThrow(
        code('ERR_KERNEL_TAINT_JOURNAL_CORRUPT'),
      );
      expect(readFileSync(w.file).equals(bytes), what).toBe(true);
      // And the refused open released everything: the next one fails the same way, not with LOCKED.
      expect(() => openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath }), what).toThrow(
        code('ERR_KERNEL_TAINT_JOURNAL_CORRUPT'),
      );
    }
  });

  it('repairs only a torn last record, keeping every complete one', () => {
    const w = world();
    const good = '{"seq":1,"time":"t","bootId":"boot-1","bit":9,"letter":"W"}\n';
    writeFileSync(w.file, `${good}{"seq":2,"time":"t","boo`);
    const j = openJ(w.file, { state: mainline(W | O), bootIdPath: w.bootIdPath });
    expect(j.recovered).toMatchObject({ records: 1, tornBytes: 24 });
    expect(readTaintJournal(w.file).records.map((r) => r.seq)).toEqual([1, 2]);
    expect(readFileSync(w.file, 'utf8').startsWith(good)).toBe(true);
  });

  it('keeps records across seq gaps and continues after the highest', () => {
    const w = world();
    writeFileSync(
      w.file,
      '{"seq":1,"bootId":"boot-1","bit":0}\n{"seq":5,"bootId":"boot-1","bit":1}\n{"seq":6,"bootId":"boot-1","bit":2}\n',
    );
    const j = openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath });
    expect(j.recovered).toMatchObject({ records: 3, seqGaps: 1 });
    expect(readTaintJournal(w.file).records.map((r) => r.seq)).toEqual([1, 5, 6, 7]);
  });

  it('refuses a file over 512 MiB without reading it', () => {
    const w = world();
    writeFileSync(w.file, '');
    truncateSync(w.file, MAX_JOURNAL_BYTES + 1); // sparse: costs no disk
    const t0 = performance.now();
    expect(() => openJ(w.file, { state: mainline(0), bootIdPath: w.bootIdPath })).toThrow(
      code('ERR_KERNEL_TAINT_JOURNAL_CORRUPT'),
    );
    expect(() => readTaintJournal(w.file)).toThrow(code('ERR_KERNEL_TAINT_JOURNAL_CORRUPT'));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(statSync(w.file).size).toBe(MAX_JOURNAL_BYTES + 1);
  });

  it('refuses a FIFO and a directory with a coded error, without blocking', () => {
    const w = world();
    execFileSync('mkfifo', [w.file]);
    expect(() => openJ(w.file, { state: mainline(0) })).toThrow(code('ERR_KERNEL_TAINT_INVALID_ARG'));
    const d = join(w.dir, 'dir');
    mkdirSync(d);
    expect(() => openJ(d, { state: mainline(0) })).toThrow(/EISDIR|regular file/);
  });

  it('rejects bad arguments with a coded error', () => {
    const w = world();
    for (const [file, opts] of [
      [42, {}],
      ['', {}],
      ['a\0b', {}],
      [w.file, { fileMode: 0o1777 }],
      [w.file, { fileMode: 1.5 }],
      [w.file, { maxPending: 0 }],
      [w.file, { source: 42 }],
    ] as const) {
      expect(() => openTaintJournal(file as never, opts as never)).toThrow(code('ERR_KERNEL_TAINT_INVALID_ARG'));
    }
  });
});

describe('journal: links and permissions', () => {
  it('creates the file 0600 by default, or with fileMode', () => {
    const w = world();
    const old = process.umask(0);
    try {
      openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath });
      expect(statSync(w.file).mode & 0o777).toBe(0o600);
      const other = join(w.dir, 'shared.jsonl');
      openJ(other, { state: mainline(W), bootIdPath: w.bootIdPath, fileMode: 0o640 });
      expect(statSync(other).mode & 0o777).toBe(0o640);
    } finally {
      process.umask(old);
    }
  });

  it('refuses a symlinked journal unless followSymlinks, and the lock holds across names', async () => {
    const w = world();
    const real = join(w.dir, 'real.jsonl');
    const link = join(w.dir, 'link.jsonl');
    const hard = join(w.dir, 'hard.jsonl');
    openJ(real, { state: mainline(W), bootIdPath: w.bootIdPath });
    symlinkSync(real, link);
    linkSync(real, hard);
    expect(() => openJ(link, { state: mainline(W) })).toThrow(
      expect.objectContaining({ code: 'ELOOP', message: expect.stringContaining('followSymlinks') }),
    );
    expect(() => openJ(link, { state: mainline(W), followSymlinks: true })).toThrow(
      code('ERR_KERNEL_TAINT_JOURNAL_LOCKED'),
    );
    expect(() => openJ(hard, { state: mainline(W) })).toThrow(code('ERR_KERNEL_TAINT_JOURNAL_LOCKED'));
    await open.splice(0)[0].close();
    const j = openJ(hard, { state: mainline(W | O), bootIdPath: w.bootIdPath });
    expect(j.seq).toBe(2);
    expect(readTaintJournal(real).records.map((r) => r.seq)).toEqual([1, 2]);
  });

  it('never writes through a symlink planted at the lock name', async () => {
    const w = world();
    const victim = join(w.dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, `${w.file}.lock`);
    const j = openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(lstatSync(`${w.file}.lock`).isSymbolicLink()).toBe(false);
    await j.close();
    open.length = 0;
    expect(existsSync(`${w.file}.lock`)).toBe(false);
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
  });

  it('a stale holder file does not keep a writer out (the lock is on the journal)', () => {
    const w = world();
    writeFileSync(`${w.file}.lock`, `${process.pid} 1\n`);
    const j = openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath });
    expect(j.seq).toBe(1);
  });

  it('the baseline file is written through a random exclusive temp name; errors name the user path', () => {
    const w = world();
    const file = join(w.dir, 'baseline.json');
    // A symlink planted at the old predictable name is never followed.
    const victim = join(w.dir, 'victim');
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, `${file}.${process.pid}.tmp`);
    bootBaseline(file, 4096, { bootIdPath: w.bootIdPath });
    expect(readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(readlinkSync(`${file}.${process.pid}.tmp`)).toBe(victim);
    expect(statSync(file).mode & 0o077).toBe(0);
    const missing = join(w.dir, 'no-such-dir', 'b.json');
    expect(() => bootBaseline(missing, 1, { bootIdPath: w.bootIdPath })).toThrow(
      expect.objectContaining({ code: 'ENOENT', path: missing, message: expect.not.stringMatching(/\.tmp/) }),
    );
    if (process.getuid?.() === 0) return; // root ignores the read-only bit below
    const ro = join(w.dir, 'ro');
    mkdirSync(ro);
    chmodSync(ro, 0o500);
    const target = join(ro, 'b.json');
    try {
      bootBaseline(target, 1, { bootIdPath: w.bootIdPath });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).toContain(target);
      expect((e as Error).message).not.toMatch(/\.tmp/);
    }
  });
});
