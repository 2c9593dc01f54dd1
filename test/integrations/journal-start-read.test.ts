// A journal opened on a watcher and the watcher read the kernel log ring once
// at start: the journal's `observedAt: 'start'` records and the watcher's
// initial report are explained from the same read, whichever asks first
// (issue #13). The log is a FIFO holding real kernel log records: a FIFO hands
// its bytes to one read only, so a second read of the ring would find nothing
// and leave one of the two without its evidence.
import { execFileSync } from 'node:child_process';
import { appendFileSync, closeSync, constants, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { isSupported } from '../../lib/binding.js';
import { main } from '../../lib/cli/index.js';
import { type JournalRecord, openTaintJournal, readTaintJournal } from '../../lib/integrations/journal.js';
import { type TaintChange, type TaintWatcher, watchTaint } from '../../lib/watch.js';
import { nextEvent } from '../helpers/events.js';
import { fdsOn } from '../helpers/fs.js';
import { bits } from '../helpers/modules.js';
import { tempDir } from '../helpers/tmp.js';
import { memIo, until } from './helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/kmsg/${name}`, import.meta.url));
// Real records of a 6.1 guest that loaded a proprietary out-of-tree module and hit a WARN (old banner).
const BOOKWORM = readFileSync(fixture('bookworm-6.1.kmsg'), 'utf8');
// Real records of a 7.2 guest: the new WARN banner, a comm with parentheses.
const TRIXIE = readFileSync(fixture('trixie-7x.kmsg'), 'utf8');
const PWOE = bits('P', 'W', 'O', 'E');

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A FIFO holding `text` (the test keeps a descriptor open, so readers see EAGAIN at the end, not EOF). */
function fifoLog(dir: string, text: string): { path: string; readers: () => number } {
  const path = join(dir, 'kmsg.fifo');
  execFileSync('mkfifo', [path]);
  const fd = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
  cleanup.push(() => closeSync(fd));
  const b = Buffer.from(text);
  expect(writeSync(fd, b)).toBe(b.length); // within the 64 KiB pipe buffer
  return { path, readers: () => fdsOn(path) - 1 };
}

function world() {
  const dir = tempDir('kt-jsr-');
  const value = join(dir, 'tainted');
  writeFileSync(value, `${PWOE}\n`);
  const bootIdPath = join(dir, 'boot_id');
  writeFileSync(bootIdPath, 'boot-start-read\n');
  // No module is loaded: module bits are explained by the log alone.
  const sys = join(dir, 'sys-module');
  execFileSync('mkdir', ['-p', sys]);
  const procModules = join(dir, 'modules');
  writeFileSync(procModules, '');
  return { dir, value, bootIdPath, sys, procModules, journal: join(dir, 'taint.jsonl') };
}

function byLetter(records: readonly JournalRecord[]): Record<string, JournalRecord> {
  return Object.fromEntries(records.map((r) => [r.letter, r]));
}

/** The bookworm ring's evidence, as the journal's start records carry it. */
function expectBookwormRecords(records: readonly JournalRecord[]) {
  const by = byLetter(records);
  expect(Object.keys(by).sort()).toEqual(['E', 'O', 'P', 'W']);
  for (const r of records) expect(r.observedAt).toBe('start');
  expect(by.W.cause).toMatchObject({ kind: 'warning', site: '<scratch>/bookworm/modules-build/kt_warn.c:10' });
  expect(by.W.actor).toEqual({ kind: 'incidental', pid: null, tid: 119, comm: 'insmod', via: 'kmsg' });
  expect(by.P.cause).toMatchObject({ kind: 'module', module: { name: 'kt_prop', license: 'Proprietary' } });
  expect(by.O.cause?.line).toBe('kt_prop: loading out-of-tree module taints kernel.');
  expect(by.E.cause?.line).toContain('module verification failed');
  for (const r of records) expect(r.since).toMatch(/^\d{4}-\d\d-\d\dT/);
}

/** The same ring's evidence, as the watcher's initial report carries it. */
function expectBookwormInitial(c: Pick<TaintChange, 'evidence'>) {
  expect(c.evidence.map((e) => [e.flag.letter, e.source, e.sinceBoot])).toEqual([
    ['P', 'kmsg', 11.003201],
    ['W', 'kmsg', 12.041456],
    ['O', 'kmsg', 11.002296],
    ['E', 'kmsg', 11.006399],
  ]);
}

function watcherOn(w: ReturnType<typeof world>, kmsg: string, extra: Record<string, unknown> = {}): TaintWatcher {
  const watcher = watchTaint({
    path: w.value,
    profile: 'mainline',
    interval: 0,
    persistent: false,
    _kmsgPath: kmsg,
    _sysModuleDir: w.sys,
    _procModulesPath: w.procModules,
    ...extra,
  });
  cleanup.push(() => watcher.close());
  return watcher;
}

describe.skipIf(!isSupported())('the journal and its watcher read the kernel log once at start', () => {
  it('journal opened in the tick that created the watcher (the CLI order): one read serves both', async () => {
    const w = world();
    const log = fifoLog(w.dir, BOOKWORM);
    const watcher = watcherOn(w, log.path);
    const initial = nextEvent<[TaintChange]>(watcher, 'change');
    const journal = openTaintJournal(w.journal, { env: {}, source: watcher, bootIdPath: w.bootIdPath });
    cleanup.push(() => journal.close());
    // Written before openTaintJournal returned (crash-safety rule 3), with their evidence from the log.
    expectBookwormRecords(readTaintJournal(w.journal).records);
    expect(journal.seq).toBe(4);
    const [c] = await initial;
    expectBookwormInitial(c);
    // The watcher's tail, and nothing else, still holds the log open.
    expect(log.readers()).toBe(1);
  });

  it('journal opened after the initial report: the records come from the read the report made', async () => {
    const w = world();
    const log = fifoLog(w.dir, BOOKWORM);
    const watcher = watcherOn(w, log.path);
    const [c] = await nextEvent<[TaintChange]>(watcher, 'change');
    expectBookwormInitial(c);
    // What a listener does to its copy does not reach what the read kept for the journal.
    const cause = c.evidence[1].cause as { site?: string; line?: string };
    cause.site = 'changed by a listener';
    cause.line = 'changed by a listener';
    const journal = openTaintJournal(w.journal, { env: {}, source: watcher, bootIdPath: w.bootIdPath });
    cleanup.push(() => journal.close());
    expectBookwormRecords(readTaintJournal(w.journal).records);
    expect(byLetter(readTaintJournal(w.journal).records).W.cause?.line).toMatch(/^WARNING: CPU: 0 PID: 119 at /);
    expect(log.readers()).toBe(1);
  });

  it('ignoreInitial, journal opened after ready: the positioning read explained the start bits', async () => {
    const w = world();
    const log = fifoLog(w.dir, TRIXIE);
    const watcher = watcherOn(w, log.path, { ignoreInitial: true });
    await nextEvent(watcher, 'ready');
    const journal = openTaintJournal(w.journal, { env: {}, source: watcher, bootIdPath: w.bootIdPath });
    cleanup.push(() => journal.close());
    const by = byLetter(readTaintJournal(w.journal).records);
    expect(by.W).toMatchObject({
      observedAt: 'start',
      cause: { kind: 'warning', site: 'arch/x86/kernel/cpu/bugs.c:3736' },
      actor: { kind: 'incidental', tid: 728, comm: '(udev-worker)', via: 'kmsg' },
    });
    expect(by.P.cause).toMatchObject({ kind: 'module', module: { name: 'kt_prop', license: 'Proprietary' } });
    expect(log.readers()).toBe(1);
  });

  it('bits outside the watcher filter are recorded with their evidence from the same read', async () => {
    const w = world();
    const log = fifoLog(w.dir, BOOKWORM);
    const watcher = watcherOn(w, log.path, { filter: ['W'] });
    const journal = openTaintJournal(w.journal, { env: {}, source: watcher, bootIdPath: w.bootIdPath });
    cleanup.push(() => journal.close());
    expectBookwormRecords(readTaintJournal(w.journal).records);
    const [c] = await nextEvent<[TaintChange]>(watcher, 'change');
    expect(c.evidence.map((e) => [e.flag.letter, e.source, e.sinceBoot])).toEqual([['W', 'kmsg', 12.041456]]);
  });

  it('a ring longer than the records a watcher keeps: a journal opened later loses nothing', async () => {
    // 5,000 ordinary records after the taint ones: more than the tail keeps for later changes.
    const w = world();
    const file = join(w.dir, 'kmsg');
    const after = Array.from({ length: 5000 }, (_, i) => `6,${100 + i},${20_000_000 + i},-;ordinary line ${i}`);
    writeFileSync(file, BOOKWORM);
    appendFileSync(file, `${after.join('\n')}\n`);
    const watcher = watcherOn(w, file);
    expectBookwormInitial((await nextEvent<[TaintChange]>(watcher, 'change'))[0]);
    const journal = openTaintJournal(w.journal, { env: {}, source: watcher, bootIdPath: w.bootIdPath });
    cleanup.push(() => journal.close());
    expectBookwormRecords(readTaintJournal(w.journal).records);
  });

  it('control: a kmsgPath given to the journal is its own read, and the FIFO shows the second read', async () => {
    const w = world();
    const log = fifoLog(w.dir, BOOKWORM);
    const watcher = watcherOn(w, log.path);
    const initial = nextEvent<[TaintChange]>(watcher, 'change');
    // The old behaviour, on request: the journal reads the log itself, then the watcher reads it again.
    const journal = openTaintJournal(w.journal, {
      env: {},
      source: watcher,
      bootIdPath: w.bootIdPath,
      kmsgPath: log.path,
    });
    cleanup.push(() => journal.close());
    expectBookwormRecords(readTaintJournal(w.journal).records);
    // The first read took the FIFO's records: the second one finds none, so this test setup sees a
    // second read of the ring as evidence missing from one of the two.
    const [c] = await initial;
    expect(c.evidence.map((e) => [e.flag.letter, e.source, e.cause])).toEqual([
      ['P', 'watch', null],
      ['W', 'watch', null],
      ['O', 'watch', null],
      ['E', 'watch', null],
    ]);
  });
});

describe.skipIf(!isSupported())('watch --journal and serve --journal read the kernel log once at start', () => {
  it('watch --kmsg FIFO --journal: start records and the initial line both carry the log evidence', async () => {
    const w = world();
    const log = fifoLog(w.dir, BOOKWORM);
    const ac = new AbortController();
    const { out, err, io } = memIo(ac.signal, {});
    const run = main(
      ['watch', '--json', '--path', w.value, '--kmsg', log.path, '--profile', 'mainline', '--journal', w.journal],
      io,
    );
    cleanup.push(() => {
      ac.abort();
      return run;
    });
    await until(() => out.length > 0, 10_000, 'the initial line');
    expectBookwormRecords(readTaintJournal(w.journal).records);
    const initial = JSON.parse(out[0]);
    expect(initial.trigger).toBe('initial');
    expect(
      initial.evidence.map((e: { flag: { letter: string }; source: string }) => [e.flag.letter, e.source]),
    ).toEqual([
      ['P', 'kmsg'],
      ['W', 'kmsg'],
      ['O', 'kmsg'],
      ['E', 'kmsg'],
    ]);
    expect(initial.evidence[1].cause).toMatchObject({
      kind: 'warning',
      site: '<scratch>/bookworm/modules-build/kt_warn.c:10',
    });
    expect(log.readers()).toBe(1);
    ac.abort();
    expect(await run).toBe(0);
    expect(err.join('\n')).not.toContain('journal:');
    expect(log.readers()).toBe(0);
  });

  it('serve --kmsg FIFO --journal: start records and the panel evidence both come from the one read', async () => {
    const w = world();
    const log = fifoLog(w.dir, TRIXIE);
    const ac = new AbortController();
    const { out, io } = memIo(ac.signal, {});
    const run = main(
      ['serve', '--port', '0', '--path', w.value, '--kmsg', log.path, '--profile', 'mainline', '--journal', w.journal],
      io,
    );
    cleanup.push(() => {
      ac.abort();
      return run;
    });
    const url = (await until(
      () => out.map((l) => /serving on (http:\/\/127\.0\.0\.1:\d+)\//.exec(l)?.[1]).find(Boolean),
      10_000,
      'url',
    )) as string;
    const by = byLetter(readTaintJournal(w.journal).records);
    expect(Object.keys(by).sort()).toEqual(['E', 'O', 'P', 'W']);
    expect(by.W).toMatchObject({
      observedAt: 'start',
      cause: { kind: 'warning', site: 'arch/x86/kernel/cpu/bugs.c:3736' },
      actor: { tid: 728, comm: '(udev-worker)' },
    });
    expect(by.O.cause?.line).toBe('kt_prop: loading out-of-tree module taints kernel.');
    const state = (await (await fetch(`${url}/state`)).json()) as {
      flags: Array<{ letter: string; evidence: { source: string; sinceBoot: number; actor: string | null } | null }>;
    };
    const w9 = state.flags.find((f) => f.letter === 'W');
    expect(w9?.evidence).toMatchObject({ source: 'kmsg', sinceBoot: 9.041456 });
    expect(w9?.evidence?.actor).toContain('(udev-worker)');
    expect(log.readers()).toBe(1);
    ac.abort();
    expect(await run).toBe(0);
  });
});
