import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { KernelTaintError } from '../../lib/errors.js';
import {
  JOURNAL_MODE_ENV,
  type JournalRecord,
  openTaintJournal,
  parseJournalMode,
  readTaintJournal,
  type TaintJournal,
  type TaintJournalOptions,
} from '../../lib/integrations/journal.js';
import { tempDir } from '../helpers/tmp.js';
import { FakeSource, mainline, mod } from './helpers.js';

const W = 1 << 9;
const O = 1 << 12;
const P = 1 << 0;
const E = 1 << 13;

const open: TaintJournal[] = [];
afterEach(async () => {
  for (const j of open.splice(0)) await j.close();
});

function world() {
  const dir = tempDir();
  const bootIdPath = join(dir, 'boot_id');
  writeFileSync(bootIdPath, 'boot-1\n');
  const sys = join(dir, 'sys-module');
  mkdirSync(sys);
  return {
    dir,
    file: join(dir, 'taint.jsonl'),
    bootIdPath,
    sys,
    boot(id: string) {
      writeFileSync(bootIdPath, `${id}\n`);
    },
    module(name: string, letters: string, extra: { version?: string; srcversion?: string } = {}) {
      mkdirSync(join(sys, name), { recursive: true });
      writeFileSync(join(sys, name, 'taint'), `${letters}\n`);
      if (extra.version) writeFileSync(join(sys, name, 'version'), `${extra.version}\n`);
      if (extra.srcversion) writeFileSync(join(sys, name, 'srcversion'), `${extra.srcversion}\n`);
    },
  };
}

function openJ(file: string, opts: TaintJournalOptions): TaintJournal {
  const j = openTaintJournal(file, { env: {}, ...opts });
  open.push(j);
  return j;
}

function records(file: string): JournalRecord[] {
  return readTaintJournal(file).records;
}

describe('openTaintJournal', () => {
  it('records bits set at open once, marked observedAt start, with seq from 1', () => {
    const w = world();
    const j = openJ(w.file, { state: mainline(W | O), bootIdPath: w.bootIdPath, _sysModuleDir: w.sys });
    expect(j.seq).toBe(2);
    const r = records(w.file);
    expect(r.map((x) => [x.seq, x.letter, x.name, x.category, x.observedAt, x.bootId])).toEqual([
      [1, 'W', 'WARN', 'stability', 'start', 'boot-1'],
      [2, 'O', 'OOT_MODULE', 'integrity', 'start', 'boot-1'],
    ]);
    expect(r[0].trigger).toEqual({ kind: 'start', via: 'start' });
    expect(r[0].actor).toBeNull();
    expect(r[0].time).toMatch(/^\d{4}-\d\d-\d\dT.*Z$/);
    // Exactly one line per record, each ending in a newline.
    expect(readFileSync(w.file, 'utf8').split('\n')).toHaveLength(3);
  });

  it('records each transition once per boot, re-arms after a reboot, seq keeps counting across restarts', async () => {
    const w = world();
    const source = new FakeSource(0);
    const j = openJ(w.file, { source, bootIdPath: w.bootIdPath });
    source.set(W, 'kmsg', { kmsg: 'WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2' });
    source.set(W); // same value: nothing new
    source.set(W | O, 'uevent');
    source.set(O); // W dropped (only in tests): nothing new
    source.set(W | O); // W again on the same boot: not recorded again
    expect(records(w.file).map((r) => [r.seq, r.letter, r.observedAt])).toEqual([
      [1, 'W', 'change'],
      [2, 'O', 'change'],
    ]);
    expect(records(w.file)[0].trigger).toEqual({
      kind: 'kmsg',
      via: 'kmsg',
      line: 'WARNING: CPU: 1 PID: 42 at mm/slub.c:123 kfree+0x1/0x2',
    });
    await j.close();
    open.length = 0;

    // Restart on the same boot: nothing new to record, seq continues.
    const j2 = openJ(w.file, { state: mainline(W | O), bootIdPath: w.bootIdPath });
    expect(j2.seq).toBe(2);
    expect(j2.recovered).toEqual({ records: 2, tornBytes: 0, skippedLines: 0, seqGaps: 0 });
    expect(j2.observe(mainline(W | O | P), { trigger: 'poll' }).map((r) => [r.seq, r.letter])).toEqual([[3, 'P']]);
    await j2.close();
    open.length = 0;

    // Reboot: everything set is recorded again, under the new boot id.
    w.boot('boot-2');
    const j3 = openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath });
    expect(j3.seq).toBe(4);
    expect(records(w.file).at(-1)).toMatchObject({ seq: 4, letter: 'W', bootId: 'boot-2', observedAt: 'start' });
  });

  it("uses the change's kmsg line as the trigger of non-module bits, whichever trigger noticed the change", () => {
    const w = world();
    w.module('zfs', 'PO');
    const source = new FakeSource(0);
    openJ(w.file, { source, bootIdPath: w.bootIdPath, _sysModuleDir: w.sys });
    const line = 'Machine check events logged';
    source.set(W | O | (1 << 4), 'poll', { kmsg: line, carrying: [mod('zfs', 'PO')] });
    // A change without a line: the trigger kind.
    source.set(W | O | (1 << 4) | (1 << 14), 'counter');
    const r = records(w.file);
    expect(r.map((x) => [x.letter, x.trigger.kind, x.trigger.via, x.trigger.line ?? null])).toEqual([
      ['M', 'kmsg', 'poll', line],
      ['W', 'kmsg', 'poll', line],
      ['O', 'module', 'poll', null],
      ['L', 'counter', 'counter', null],
    ]);
    expect(r[2].trigger.modules?.map((m) => m.name)).toEqual(['zfs']);
  });

  it('treats the first change of a source that was not ready, and initial reports, as start', () => {
    const w = world();
    const source = new FakeSource(null);
    openJ(w.file, { source, bootIdPath: w.bootIdPath });
    expect(existsSync(w.file)).toBe(true);
    source.set(W, 'initial');
    source.set(W | O, 'inotify');
    expect(records(w.file).map((r) => [r.letter, r.observedAt, r.trigger.via])).toEqual([
      ['W', 'start', 'initial'],
      ['O', 'change', 'inotify'],
    ]);
  });

  it('uses the boot id of the change when no boot id file is given', () => {
    const w = world();
    const source = new FakeSource(0);
    source.bootId = 'from-watcher';
    openJ(w.file, { source });
    source.set(W);
    expect(records(w.file)[0].bootId).toBe('from-watcher');
  });

  it('records the modules carrying a module bit with what /sys/module tells', () => {
    const w = world();
    w.module('zfs', 'POE', { version: '2.2.2-1', srcversion: 'ABC123' });
    w.module('clean', '');
    w.module('module/parameters', '');
    writeFileSync(join(w.sys, 'module', 'parameters', 'sig_enforce'), 'N\n');
    w.module('kt_signed', 'O');
    const j = openJ(w.file, { state: mainline(0), bootIdPath: w.bootIdPath, _sysModuleDir: w.sys });
    const [p, o, e] = j.observe(mainline(P | O | E), { trigger: 'uevent' });
    expect(p.trigger).toEqual({
      kind: 'module',
      via: 'uevent',
      modules: [
        {
          name: 'zfs',
          letters: 'POE',
          license: 'proprietary',
          intree: false,
          signed: false,
          version: '2.2.2-1',
          srcversion: 'ABC123',
        },
      ],
    });
    expect(o.trigger.modules?.map((m) => [m.name, m.signed])).toEqual([
      ['kt_signed', true],
      ['zfs', false],
    ]);
    expect(e.trigger.modules?.map((m) => m.name)).toEqual(['zfs']);
    // Modules given by the watcher are used as they are.
    const [x] = j.observe(mainline(P | O | E | (1 << 16)), { trigger: 'uevent', modules: [mod('aux_mod', 'X')] });
    expect(x.trigger.modules?.map((m) => [m.name, m.license, m.intree])).toEqual([['aux_mod', 'gpl-compatible', true]]);
  });

  it('cuts a torn last line on open and appends after it', () => {
    const w = world();
    const j = openJ(w.file, { state: mainline(W), bootIdPath: w.bootIdPath });
    j.close();
    open.length = 0;
    appendFileSync(w.file, '{"seq":2,"time":"2025-01-01T00:00:00.000Z","bootId":"boot-1","bit":12,"let');
    expect(readTaintJournal(w.file).tornBytes).toBeGreaterThan(0);
    const j2 = openJ(w.file, { state: mainline(W | O), bootIdPath: w.bootIdPath });
    expect(j2.recovered.tornBytes).toBeGreaterThan(0);
    const c = readTaintJournal(w.file);
    expect(c.tornBytes).toBe(0);
    expect(c.records.map((r) => [r.seq, r.letter])).toEqual([
      [1, 'W'],
      [2, 'O'],
    ]);
  });

  it('refuses a file with complete lines that are not records, and leaves it as it is', () => {
    const w = world();
    const text = 'garbage\n{"seq":1,"bit":9,"bootId":"boot-1","letter":"W"}\n';
    writeFileSync(w.file, text);
    expect(() => openJ(w.file, { state: mainline(W | O), bootIdPath: w.bootIdPath })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_JOURNAL_CORRUPT', message: expect.stringContaining('line 1') }),
    );
    expect(readFileSync(w.file, 'utf8')).toBe(text);
    // The read-only reader still reports what it skipped.
    expect(readTaintJournal(w.file)).toMatchObject({ skippedLines: 1, tornBytes: 0 });
  });

  it('lets one writer in: a second one gets ERR_KERNEL_TAINT_JOURNAL_LOCKED; a dead holder is taken over', async () => {
    const w = world();
    const j = openJ(w.file, { state: mainline(0), bootIdPath: w.bootIdPath });
    expect(() => openTaintJournal(w.file, { env: {}, state: mainline(0) })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_JOURNAL_LOCKED' }),
    );
    await j.close();
    await j.close(); // idempotent
    open.length = 0;
    expect(existsSync(`${w.file}.lock`)).toBe(false);
    // A lock left by a process that is gone (pid 2^22 - 1 does not exist here).
    writeFileSync(`${w.file}.lock`, '4194303 12345\n');
    const j2 = openJ(w.file, { state: mainline(0), bootIdPath: w.bootIdPath });
    expect(readFileSync(`${w.file}.lock`, 'utf8')).toMatch(new RegExp(`^${process.pid} `));
    await j2.close();
    open.length = 0;
  });

  it('refuses writes after close', async () => {
    const w = world();
    const j = openJ(w.file, { state: mainline(0), bootIdPath: w.bootIdPath });
    await j.close();
    expect(() => j.observe(mainline(W))).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_CLOSED' }));
  });

  it('emits record events, and error events for a failed record', () => {
    const w = world();
    const source = new FakeSource(0);
    const j = openJ(w.file, { source, bootIdPath: w.bootIdPath });
    const seen: number[] = [];
    const errors: Error[] = [];
    j.on('record', (r) => seen.push(r.bit));
    j.on('error', (e) => errors.push(e));
    source.set(W);
    expect(seen).toEqual([9]);
    j.close();
    // The source is detached on close: nothing more is written or reported.
    source.set(W | O);
    expect(errors).toEqual([]);
  });
});

describe('journal modes', () => {
  it('accepts the standard quartet; success-only and failure-only record like enabled', () => {
    for (const mode of ['enabled', 'success-only', 'failure-only'] as const) {
      const w = world();
      const j = openJ(w.file, { mode, state: mainline(W), bootIdPath: w.bootIdPath });
      expect(j.mode).toBe(mode);
      expect(records(w.file)).toHaveLength(1);
    }
  });

  it('disabled records nothing and creates no file', () => {
    const w = world();
    const source = new FakeSource(W);
    const j = openJ(w.file, { mode: 'disabled', source, bootIdPath: w.bootIdPath });
    source.set(W | O);
    expect(j.observe(mainline(O))).toEqual([]);
    expect(existsSync(w.file)).toBe(false);
    expect(existsSync(`${w.file}.lock`)).toBe(false);
  });

  it(`reads ${JOURNAL_MODE_ENV} when no mode is given; the option wins`, () => {
    const w = world();
    expect(openJ(w.file, { env: { [JOURNAL_MODE_ENV]: 'disabled' }, state: mainline(W) }).mode).toBe('disabled');
    expect(existsSync(w.file)).toBe(false);
    const j = openJ(w.file, {
      env: { [JOURNAL_MODE_ENV]: 'disabled' },
      mode: 'enabled',
      state: mainline(W),
      bootIdPath: w.bootIdPath,
    });
    expect(j.mode).toBe('enabled');
    expect(() => openTaintJournal(join(w.dir, 'x'), { env: { [JOURNAL_MODE_ENV]: 'on' } })).toThrow(
      /KERNEL_TAINT_JOURNAL must be one of enabled, success-only, failure-only, disabled/,
    );
  });

  it('rejects bad modes and files with ERR_KERNEL_TAINT_INVALID_ARG', () => {
    expect(() => parseJournalMode('all')).toThrow(KernelTaintError);
    expect(() => openTaintJournal('', {})).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }));
    expect(() => openTaintJournal('/tmp/x', { mode: 'verbose' as never })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
  });
});
