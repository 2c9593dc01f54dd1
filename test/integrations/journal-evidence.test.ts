// The journal's actor and cause: bits set at open carry their evidence from the
// kernel log (fixture rings from real console logs), later changes the
// watcher's evidence or the change's kmsg line.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openTaintJournal, readTaintJournal, type TaintJournal } from '../../lib/integrations/journal.js';
import type { TaintEvidence } from '../../lib/types.js';
import { bits, moduleTree } from '../helpers/modules.js';
import { tempDir } from '../helpers/tmp.js';
import { FakeSource, mainline } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/kmsg/${name}`, import.meta.url));
const [P, U, W, O, E] = ['P', 'U', 'W', 'O', 'E'].map((l) => bits(l));
const journals: TaintJournal[] = [];
afterEach(async () => {
  await Promise.all(journals.splice(0).map((j) => j.close()));
});

/** A temp boot id, a module tree with kt_prop (POE), and a journal file. */
function world() {
  const dir = tempDir();
  const bootIdPath = join(dir, 'boot_id');
  writeFileSync(bootIdPath, 'boot-1\n');
  return { file: join(dir, 'taint.jsonl'), bootIdPath, sys: moduleTree(dir, { kt_prop: 'POE' }) };
}

describe('journal actor and cause', () => {
  it('records of bits set at open carry their evidence from the log', () => {
    const w = world();
    const j = openTaintJournal(w.file, {
      env: {},
      state: mainline(P | U | W | O | E),
      bootIdPath: w.bootIdPath,
      _sysModuleDir: w.sys,
      kmsgPath: fixture('bookworm-6.1.kmsg'),
    });
    journals.push(j);
    const by = Object.fromEntries(readTaintJournal(w.file).records.map((r) => [r.letter, r]));
    expect(Object.keys(by).sort()).toEqual(['E', 'O', 'P', 'U', 'W']);
    for (const r of Object.values(by)) expect(r.observedAt).toBe('start');
    expect(by.W.cause).toMatchObject({ kind: 'warning', site: '<scratch>/bookworm/modules-build/kt_warn.c:10' });
    expect(by.W.actor).toEqual({ kind: 'incidental', pid: null, tid: 119, comm: 'insmod', via: 'kmsg' });
    expect(by.W.since).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(by.P.cause).toMatchObject({
      kind: 'module',
      module: { name: 'kt_prop', license: 'Proprietary', letters: 'POE' },
    });
    expect(by.O.cause?.line).toBe('kt_prop: loading out-of-tree module taints kernel.');
    // Nothing recorded U's writer: both null, never guessed.
    expect(by.U).toMatchObject({ cause: null, actor: null, since: null });
  });

  it('without a log, start records of module bits still name the module', () => {
    const w = world();
    journals.push(
      openTaintJournal(w.file, { env: {}, state: mainline(P), bootIdPath: w.bootIdPath, _sysModuleDir: w.sys }),
    );
    const [r] = readTaintJournal(w.file).records;
    expect(r.cause).toMatchObject({ kind: 'module', module: { name: 'kt_prop', letters: 'POE', intree: false } });
    expect(r.actor).toBeNull();
  });

  it("a change: the watcher's evidence, else the kmsg line", () => {
    const w = world();
    const source = new FakeSource(0);
    journals.push(openTaintJournal(w.file, { env: {}, source, bootIdPath: w.bootIdPath, _sysModuleDir: w.sys }));
    const line = 'WARNING: at f+0x1/0x2, CPU#3: kworker/3:1 (events)/91';
    source.set(W, 'kmsg', { kmsg: line });
    const ev: TaintEvidence = {
      flag: mainline(U).flags[0],
      since: new Date(Date.UTC(2026, 11, 2, 6, 0, 0)),
      sinceBoot: 100,
      cause: { kind: 'user-write' },
      actor: { kind: 'process', pid: 4321, tid: 4321, comm: 'sh', via: 'watchpoint' },
      source: 'watch',
    };
    // What a watcher's TaintChange carries: the evidence of each added bit.
    source.current = mainline(W | U);
    source.emit('change', {
      seq: 2,
      time: new Date(),
      bootId: 'boot-a',
      previous: mainline(W),
      current: mainline(W | U),
      added: mainline(U).flags,
      trigger: 'watchpoint',
      evidence: [ev],
    });
    const by = Object.fromEntries(readTaintJournal(w.file).records.map((r) => [r.letter, r]));
    expect(by.W).toMatchObject({
      observedAt: 'change',
      cause: { kind: 'warning', site: 'f+0x1/0x2', line },
      actor: { kind: 'incidental', tid: 91, comm: 'kworker/3:1 (events)' },
    });
    expect(by.U).toMatchObject({
      cause: { kind: 'user-write' },
      actor: { kind: 'process', pid: 4321, comm: 'sh', via: 'watchpoint' },
      since: '2026-12-02T06:00:00.000Z',
    });
  });

  it("bits the first change's evidence does not cover are recorded at start with their evidence from the log", () => {
    // The journal saw no value before this change (an ignoreInitial watcher): P O E were set before,
    // the change added W only and carries W's evidence.
    const w = world();
    const source = new FakeSource(null);
    journals.push(
      openTaintJournal(w.file, {
        env: {},
        source,
        bootIdPath: w.bootIdPath,
        _sysModuleDir: w.sys,
        kmsgPath: fixture('bookworm-6.1.kmsg'),
      }),
    );
    const ev: TaintEvidence = {
      flag: mainline(W).flags[0],
      since: new Date(Date.UTC(2026, 11, 2, 6, 0, 0)),
      sinceBoot: 100,
      cause: { kind: 'warning', site: 'x.c:1' },
      actor: null,
      source: 'kmsg',
    };
    source.current = mainline(P | W | O | E);
    source.emit('change', {
      seq: 1,
      time: new Date(),
      bootId: 'boot-a',
      previous: mainline(P | O | E),
      current: mainline(P | W | O | E),
      added: mainline(W).flags,
      trigger: 'kmsg',
      evidence: [ev],
    });
    const by = Object.fromEntries(readTaintJournal(w.file).records.map((r) => [r.letter, r]));
    expect(Object.keys(by).sort()).toEqual(['E', 'O', 'P', 'W']);
    expect(by.W).toMatchObject({ cause: { kind: 'warning', site: 'x.c:1' }, since: '2026-12-02T06:00:00.000Z' });
    expect(by.P).toMatchObject({
      observedAt: 'start',
      cause: { kind: 'module', module: { name: 'kt_prop', license: 'Proprietary' } },
    });
    expect(by.O.cause?.line).toBe('kt_prop: loading out-of-tree module taints kernel.');
    expect(by.E.since).toMatch(/^\d{4}-/);
  });
});
