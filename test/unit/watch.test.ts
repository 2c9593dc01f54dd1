// watchTaint() against real triggers: temp files stand in for the sysctl (this
// host's taint is never written). Root-only triggers (uevent, kmsg) use real
// kernel events that change nothing: a synthetic "change" uevent and a log line.
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isSupported, native } from '../../lib/binding.js';
import { openTaintJournal, readTaintJournal } from '../../lib/integrations/journal.js';
import {
  type TaintChange,
  type TaintWatcher,
  type WatchReadyInfo,
  type WatchTaintOptions,
  watchTaint,
} from '../../lib/watch.js';
import { nextEvent, waitFor } from '../helpers/events.js';
import { canReadKmsg, canUseKmsg, isRoot, SKIP_KMSG, SKIP_ROOT } from '../helpers/features.js';
import { writeValue } from '../helpers/fs.js';
import { tempDir } from '../helpers/tmp.js';

const W = 1 << 9;
const O = 1 << 12;
const E = 1 << 13;
const P = 1;

const watchers: TaintWatcher[] = [];
let tmp: string;

function open(opts: WatchTaintOptions): TaintWatcher {
  const w = watchTaint(opts);
  watchers.push(w);
  return w;
}

function taintFile(value = 0, name = 'tainted'): string {
  const p = join(tmp, name);
  writeValue(p, value);
  return p;
}

/** Collects every 'change' of w. */
function record(w: TaintWatcher): TaintChange[] {
  const out: TaintChange[] = [];
  w.on('change', (c) => out.push(c));
  return out;
}

const letters = (c: TaintChange): string => c.added.map((f) => f.letter).join('');
const stats = () => native().watchStats();

beforeEach(() => {
  tmp = tempDir('kt-watch-');
});

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

describe.skipIf(!isSupported())('watchTaint', () => {
  describe('start', () => {
    it("reports the initial value as a 'change' with trigger 'initial', then 'ready' with the armed triggers", async () => {
      const path = taintFile(P | O);
      const w = open({ path, triggers: ['inotify', 'poll'], interval: 1000 });
      expect(w.current.value).toBe(P | O);
      const seen: string[] = [];
      const changes = record(w);
      w.on('change', () => seen.push('change'));
      w.on('ready', () => seen.push('ready'));
      const [triggers] = await nextEvent(w, 'ready');
      expect(triggers).toEqual(['inotify', 'poll']);
      expect(seen).toEqual(['change', 'ready']);
      const [c] = changes;
      expect(c.trigger).toBe('initial');
      expect(c.seq).toBe(1);
      expect(c.previous.value).toBe(0);
      expect(c.current.value).toBe(P | O);
      expect(letters(c)).toBe('PO');
      expect(c.time).toBeInstanceOf(Date);
      expect(c.bootId).toBe(readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim());
      expect(w.triggers).toEqual(['inotify', 'poll']);
    });

    it('ignoreInitial: only ready', async () => {
      const w = open({ path: taintFile(W), ignoreInitial: true, triggers: ['inotify'], interval: 0 });
      const changes = record(w);
      await nextEvent(w, 'ready');
      expect(changes).toEqual([]);
      expect(w.current.letters).toBe('W');
    });

    it('arms every available trigger by default and watches the real sysctl read-only', async () => {
      const w = open({ persistent: false });
      const [triggers] = await nextEvent<[string[]]>(w, 'ready');
      expect(triggers).toContain('inotify');
      expect(triggers).toContain('poll');
      expect(w.current.value).toBe(Number(readFileSync('/proc/sys/kernel/tainted', 'utf8').trim()));
    });

    it('throws typed errors for bad options', () => {
      const path = taintFile(0);
      expect(() => watchTaint({ path, filter: ['no-such-flag'] })).toThrow(
        expect.objectContaining({ code: 'ERR_KERNEL_TAINT_UNKNOWN_FLAG' }),
      );
      expect(() => watchTaint({ path, filter: [32] })).toThrow(
        expect.objectContaining({ code: 'ERR_KERNEL_TAINT_UNKNOWN_FLAG' }),
      );
      for (const bad of [
        { path, interval: -1 },
        { path, interval: Number.NaN },
        { path, triggers: ['nope'] },
        { path: '' },
        { path, profile: 'bogus' },
        { path, signal: {} },
      ]) {
        expect(() => watchTaint(bad as WatchTaintOptions)).toThrow(
          expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
        );
      }
      expect(stats().running).toBe(false);
    });

    it('throws the Node-style error of the first open or read', () => {
      expect(() => watchTaint({ path: join(tmp, 'missing') })).toThrow(
        expect.objectContaining({ code: 'ENOENT', errno: -2, syscall: 'open', path: join(tmp, 'missing') }),
      );
      expect(() => watchTaint({ path: tmp })).toThrow(expect.objectContaining({ code: 'EISDIR', syscall: 'read' }));
      const bad = join(tmp, 'bad');
      writeFileSync(bad, 'abc\n');
      expect(() => watchTaint({ path: bad })).toThrow(
        expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', content: 'abc\n' }),
      );
      // Nothing was left running.
      expect(stats().running).toBe(false);
    });

    it('an already aborted signal throws its reason', () => {
      const ac = new AbortController();
      ac.abort();
      expect(() => watchTaint({ path: taintFile(0), signal: ac.signal })).toThrow(
        expect.objectContaining({ name: 'AbortError' }),
      );
      expect(stats().running).toBe(false);
    });
  });

  describe('changes', () => {
    async function watching(
      value: number,
      opts: WatchTaintOptions = {},
    ): Promise<{ w: TaintWatcher; path: string; changes: TaintChange[] }> {
      const path = taintFile(value);
      const w = open({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true, ...opts });
      const changes = record(w);
      await nextEvent(w, 'ready');
      return { w, path, changes };
    }

    it("inotify: a write in place is reported with trigger 'inotify'", async () => {
      const { w, path } = await watching(0);
      const next = nextEvent<[TaintChange]>(w, 'change');
      writeValue(path, W);
      const [c] = await next;
      expect(c.trigger).toBe('inotify');
      expect(c.seq).toBe(1);
      expect(c.previous.value).toBe(0);
      expect(c.current.value).toBe(W);
      expect(letters(c)).toBe('W');
      expect(c.modules.carrying).toEqual([]);
      expect(c.modules.unattributable.map((f) => f.letter)).toEqual(['W']);
      expect(w.current.value).toBe(W);
    });

    it('the same value never re-emits; added is exactly current & ~previous', async () => {
      const { w, path, changes } = await watching(0);
      writeValue(path, W);
      await waitFor(() => changes.length === 1);
      const reads = stats().reads;
      writeValue(path, W);
      await waitFor(() => stats().reads > reads, 5000, 'the re-read of the same value');
      writeValue(path, W | O);
      await waitFor(() => changes.length === 2);
      expect(changes[1].seq).toBe(2);
      expect(changes[1].previous.value).toBe(W);
      expect(letters(changes[1])).toBe('O');
      expect(w.current.value).toBe(W | O);
    });

    it('a value that drops emits with added: []', async () => {
      const { path, changes } = await watching(W | O);
      writeValue(path, W);
      await waitFor(() => changes.length === 1);
      expect(changes[0].added).toEqual([]);
      expect(changes[0].previous.value).toBe(W | O);
      expect(changes[0].current.value).toBe(W);
    });

    it('bit 31 is handled as unsigned', async () => {
      const { path, changes } = await watching(0);
      writeValue(path, 0x8000_0000);
      await waitFor(() => changes.length === 1);
      expect(changes[0].current.value).toBe(2147483648);
      expect(changes[0].added.map((f) => f.bit)).toEqual([31]);
      expect(changes[0].added[0].known).toBe(false);
      expect(changes[0].modules.unattributable.map((f) => f.bit)).toEqual([31]);
      writeValue(path, 0x8000_0001);
      await waitFor(() => changes.length === 2);
      expect(changes[1].added.map((f) => f.bit)).toEqual([0]);
    });

    it('filter: only the selected bits count as new', async () => {
      const { w, path, changes } = await watching(0, { filter: ['W', 'oot_module', 31] });
      writeValue(path, P); // not in the filter: no event, but current follows
      await waitFor(() => w.current.value === P);
      writeValue(path, P | W | E);
      await waitFor(() => changes.length === 1);
      expect(changes[0].previous.value).toBe(P);
      expect(letters(changes[0])).toBe('W');
      writeValue(path, P | W | E | O);
      await waitFor(() => changes.length === 2);
      expect(letters(changes[1])).toBe('O');
      // A drop still emits (with added: []) so consumers can re-arm.
      writeValue(path, P);
      await waitFor(() => changes.length === 3);
      expect(changes[2].added).toEqual([]);
    });

    it('filter applies to the initial report', async () => {
      const w = open({ path: taintFile(P | W), filter: ['W'], triggers: ['inotify'], interval: 0 });
      const [c] = await nextEvent<[TaintChange]>(w, 'change');
      expect(c.trigger).toBe('initial');
      expect(letters(c)).toBe('W');
    });

    it('attributes added module flags to the modules that carry them', async () => {
      const mods = join(tmp, 'module');
      for (const [name, taint] of [
        ['kt_oot', 'OE\n'],
        ['kt_clean', '\n'],
        ['builtin', null],
      ] as const) {
        mkdirSync(join(mods, name), { recursive: true });
        if (taint !== null) writeFileSync(join(mods, name, 'taint'), taint);
      }
      const { path, changes } = await watching(0, { _sysModuleDir: mods });
      writeValue(path, O | E | W);
      await waitFor(() => changes.length === 1);
      const m = changes[0].modules;
      expect(m.carrying.map((x) => [x.name, x.letters])).toEqual([['kt_oot', 'OE']]);
      expect(m.unattributable.map((f) => f.letter)).toEqual(['W']);
    });

    it('async iteration yields changes and ends on close', async () => {
      const { w, path } = await watching(0);
      const got: number[] = [];
      const loop = (async () => {
        for await (const c of w) got.push(c.current.value);
      })();
      writeValue(path, W);
      await waitFor(() => got.length === 1);
      writeValue(path, W | O);
      await waitFor(() => got.length === 2);
      await w.close();
      await loop;
      expect(got).toEqual([W, W | O]);
    });

    it('async iteration: break closes the watcher (the loop and the watcher end together)', async () => {
      const { w, path } = await watching(0);
      const loop = (async () => {
        for await (const c of w) return c.current.value;
      })();
      writeValue(path, W);
      expect(await loop).toBe(W);
      expect(w.closed).toBe(true);
      expect(native().watchStats().running).toBe(false);
    });
  });

  describe('triggers', () => {
    it("poll: a change with inotify off is found by the timer, trigger 'poll'", async () => {
      const path = taintFile(0);
      const interval = 40;
      const w = open({ path, triggers: ['poll'], interval, ignoreInitial: true });
      const [triggers] = await nextEvent(w, 'ready');
      expect(triggers).toEqual(['poll']);
      const next = nextEvent<[TaintChange]>(w, 'change');
      const t0 = performance.now();
      writeValue(path, W);
      const [c] = await next;
      expect(c.trigger).toBe('poll');
      expect(letters(c)).toBe('W');
      // Within one interval plus scheduling noise (generous for loaded CI).
      expect(performance.now() - t0).toBeLessThan(interval + 400);
    });

    it('interval 0 disables polling', async () => {
      const w = open({ path: taintFile(0), triggers: ['poll'], interval: 0 });
      const [triggers] = await nextEvent(w, 'ready');
      expect(triggers).toEqual([]);
    });

    it("counter: a warn_count change makes the loop re-read, trigger 'counter'", async () => {
      const path = taintFile(0);
      const warn = join(tmp, 'warn_count');
      writeValue(warn, 0);
      const w = open({
        path,
        triggers: ['counter'],
        interval: 20,
        ignoreInitial: true,
        _counterPaths: [warn, join(tmp, 'no_oops_count')],
      });
      const changes = record(w);
      const [triggers] = await nextEvent(w, 'ready');
      expect(triggers).toEqual(['counter']);
      const before = stats();
      writeValue(path, W);
      // The counter is checked on every tick, the taint file is not read.
      await waitFor(() => stats().counterReads >= before.counterReads + 3, 5000, 'three counter checks');
      expect(changes).toEqual([]);
      expect(stats().reads).toBe(before.reads);
      writeValue(warn, 1);
      await waitFor(() => changes.length === 1);
      expect(changes[0].trigger).toBe('counter');
      expect(letters(changes[0])).toBe('W');
    });

    it('counter: absent counter files leave the trigger inactive', async () => {
      const w = open({ path: taintFile(0), triggers: ['counter'], _counterPaths: [join(tmp, 'none')] });
      const [triggers] = await nextEvent(w, 'ready');
      expect(triggers).toEqual([]);
    });

    it.skipIf(!isRoot)("uevent: a real uevent makes the loop re-read, trigger 'uevent'", async (ctx) => {
      const path = taintFile(0);
      const w = open({ path, triggers: ['uevent'], interval: 0, ignoreInitial: true });
      const [triggers] = await nextEvent<[string[]]>(w, 'ready');
      if (!triggers.includes('uevent')) ctx.skip(`${SKIP_ROOT}open the uevent socket`);
      const next = nextEvent<[TaintChange]>(w, 'change');
      writeValue(path, W); // not seen: no inotify, no poll
      const before = stats().ueventMessages;
      // A synthetic "change" uevent for /dev/null: harmless, and sent by the kernel.
      writeFileSync('/sys/class/mem/null/uevent', 'change');
      const [c] = await next;
      expect(c.trigger).toBe('uevent');
      expect(letters(c)).toBe('W');
      expect(stats().ueventMessages).toBeGreaterThan(before);
    });

    it.skipIf(!isRoot || !canReadKmsg() || !canUseKmsg())(
      "kmsg: a log line that signals taint makes the loop re-read, trigger 'kmsg'",
      async (ctx) => {
        const path = taintFile(0);
        const w = open({ path, triggers: ['kmsg'], interval: 0, ignoreInitial: true });
        const changes = record(w);
        const [triggers] = await nextEvent<[string[]]>(w, 'ready');
        if (!triggers.includes('kmsg')) ctx.skip('/dev/kmsg is not readable here');
        writeValue(path, W);
        const before = stats();
        // An ordinary line is drained but does not cause a read.
        writeFileSync('/dev/kmsg', 'kernel-taint self-test: an ordinary line\n');
        await waitFor(() => stats().kmsgRecords > before.kmsgRecords, 5000, 'the kmsg record');
        expect(stats().reads).toBe(before.reads);
        expect(changes).toEqual([]);
        writeFileSync('/dev/kmsg', 'kernel-taint self-test (not a real event): this line taints kernel\n');
        await waitFor(() => changes.length === 1);
        expect(changes[0].trigger).toBe('kmsg');
        expect(letters(changes[0])).toBe('W');
        // The line that woke the read, without the record prefix; not the ordinary line before it.
        expect(changes[0].kmsg).toBe('kernel-taint self-test (not a real event): this line taints kernel');
      },
    );

    describe('kmsg line on the change', () => {
      // Written with a priority prefix as a driver would log it; the kernel
      // stores the message as "kernel-taint-test: WARNING: …" at level 4.
      const LINE = 'kernel-taint-test: WARNING: CPU: 0 PID: 1 at test.c:1 fake (not a real event)';
      const logLine = (text: string) => writeFileSync('/dev/kmsg', `<4>${text}\n`);

      /** Logs text and waits until the watch thread has drained it (a kmsg wakeup that read nothing new). */
      async function logged(text: string): Promise<void> {
        const before = stats().kmsgMatches;
        logLine(text);
        await waitFor(() => stats().kmsgMatches > before, 5000, 'the kmsg record');
      }

      async function kmsgWatcher(ctx: { skip: (note?: string) => never }, opts: WatchTaintOptions, name = 'tainted') {
        if (!canUseKmsg()) ctx.skip(`${SKIP_KMSG}log a test line`);
        const path = taintFile(0, name);
        const w = open({ path, interval: 0, ignoreInitial: true, ...opts });
        const changes = record(w);
        const [triggers] = await nextEvent<[string[]]>(w, 'ready');
        if (!triggers.includes('kmsg')) ctx.skip(`${SKIP_KMSG}arm the kmsg trigger`);
        return { w, path, changes };
      }

      it('a change noticed by inotify carries the line logged before it; the next change without a line carries null', async (ctx) => {
        const { path, changes } = await kmsgWatcher(ctx, { triggers: ['kmsg', 'inotify'] });
        await logged(LINE);
        expect(changes).toEqual([]); // the kmsg wakeup read the file: unchanged, nothing emitted
        writeValue(path, W);
        await waitFor(() => changes.length === 1);
        expect(changes[0].trigger).toBe('inotify');
        expect(changes[0].kmsg).toBe(LINE);
        writeValue(path, W | O);
        await waitFor(() => changes.length === 2);
        expect(changes[1].trigger).toBe('inotify');
        expect(changes[1].kmsg).toBeNull();
      });

      it('the latest matching line wins; ordinary lines are ignored', async (ctx) => {
        const { path, changes } = await kmsgWatcher(ctx, { triggers: ['kmsg', 'inotify'] });
        await logged('kernel-taint-test: Oops: first (not a real event)');
        await logged(LINE);
        logLine('kernel-taint-test: an ordinary line after it');
        writeValue(path, W);
        await waitFor(() => changes.length === 1);
        expect(changes[0].kmsg).toBe(LINE);
      });

      it('a change noticed by the poll or a counter carries the line too', async (ctx) => {
        const warn = join(tmp, 'warn_count');
        writeValue(warn, 0);
        const polled = await kmsgWatcher(ctx, { triggers: ['kmsg', 'poll'], interval: 30 }, 'polled');
        const counted = await kmsgWatcher(
          ctx,
          { triggers: ['kmsg', 'counter'], interval: 30, _counterPaths: [warn] },
          'counted',
        );
        await logged(LINE);
        writeValue(polled.path, W);
        writeValue(counted.path, W);
        writeValue(warn, 1);
        await waitFor(() => polled.changes.length === 1 && counted.changes.length === 1);
        expect(polled.changes[0].trigger).toBe('poll');
        expect(polled.changes[0].kmsg).toBe(LINE);
        expect(counted.changes[0].trigger).toBe('counter');
        expect(counted.changes[0].kmsg).toBe(LINE);
      });

      it('each watcher gets the line since its own previous change; one without the kmsg trigger gets null', async (ctx) => {
        const a = await kmsgWatcher(ctx, { triggers: ['kmsg', 'inotify'] }, 'a');
        const b = await kmsgWatcher(ctx, { triggers: ['kmsg', 'inotify'] }, 'b');
        const plainPath = taintFile(0, 'plain');
        const plain = open({ path: plainPath, triggers: ['inotify'], interval: 0, ignoreInitial: true });
        const plainChanges = record(plain);
        await nextEvent(plain, 'ready');
        await logged(LINE);
        writeValue(a.path, W);
        await waitFor(() => a.changes.length === 1);
        writeValue(a.path, W | O);
        writeValue(plainPath, W);
        await waitFor(() => a.changes.length === 2 && plainChanges.length === 1);
        writeValue(b.path, W);
        await waitFor(() => b.changes.length === 1);
        expect(a.changes.map((c) => c.kmsg)).toEqual([LINE, null]);
        expect(b.changes[0].kmsg).toBe(LINE);
        expect(plainChanges[0].kmsg).toBeNull();
      });

      it('a long line is cut at 512 bytes', async (ctx) => {
        const { path, changes } = await kmsgWatcher(ctx, { triggers: ['kmsg', 'inotify'] });
        const long = `${LINE} ${'x'.repeat(800)}`;
        await logged(long);
        writeValue(path, W);
        await waitFor(() => changes.length === 1);
        expect(changes[0].kmsg).toBe(long.slice(0, 512));
      });

      // End to end with the journal. Here rather than in test/integrations so
      // that no other file's kmsg lines interleave (test files run in parallel).
      it("the audit journal records the line as the trigger of a non-module bit, the module's carrier for a module bit", async (ctx) => {
        const mods = join(tmp, 'module');
        mkdirSync(join(mods, 'kt_oot'), { recursive: true });
        writeFileSync(join(mods, 'kt_oot', 'taint'), 'O\n');
        const { w, path, changes } = await kmsgWatcher(ctx, { triggers: ['kmsg', 'inotify'], _sysModuleDir: mods });
        const bootIdPath = join(tmp, 'boot_id');
        writeFileSync(bootIdPath, 'boot-kmsg\n');
        const file = join(tmp, 'journal.jsonl');
        const journal = openTaintJournal(file, { env: {}, source: w, bootIdPath, _sysModuleDir: mods });
        try {
          await logged(LINE);
          writeValue(path, W | O);
          await waitFor(() => changes.length === 1);
          expect(changes[0].kmsg).toBe(LINE);
          const records = readTaintJournal(file).records;
          expect(records.map((r) => [r.letter, r.observedAt])).toEqual([
            ['W', 'change'],
            ['O', 'change'],
          ]);
          expect(records[0].trigger).toEqual({ kind: 'kmsg', via: 'inotify', line: LINE });
          expect(records[1].trigger).toMatchObject({ kind: 'module', via: 'inotify', modules: [{ name: 'kt_oot' }] });
        } finally {
          await journal.close();
        }
      });
    });

    it.skipIf(isRoot && canReadKmsg())(
      "kmsg: not armed when /dev/kmsg is unreadable, and 'ready' says why",
      async () => {
        const w = open({ path: taintFile(0), triggers: ['kmsg', 'inotify'], interval: 0 });
        const [triggers, info] = await nextEvent<[string[], WatchReadyInfo]>(w, 'ready');
        expect(triggers).toEqual(['inotify']);
        expect(info.unarmed.map((u) => u.trigger)).toEqual(['kmsg']);
        expect(typeof info.unarmed[0].code).toBe('string');
      },
    );
  });

  describe('errors', () => {
    it("the path vanishing is an 'error' with code ENOENT; the watcher recovers when it returns", async () => {
      const path = taintFile(0);
      const w = open({ path, triggers: ['inotify', 'poll'], interval: 30, ignoreInitial: true });
      const changes = record(w);
      const errors: Error[] = [];
      w.on('error', (e) => errors.push(e));
      await nextEvent(w, 'ready');
      unlinkSync(path);
      await waitFor(() => errors.length === 1);
      expect(errors[0]).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path });
      expect(errors[0].message).toBe(`ENOENT: no such file or directory, open '${path}'`);
      // Not repeated while it persists.
      const reads = stats().reads;
      await waitFor(() => stats().reads >= reads + 3, 5000, 'three polls');
      expect(errors).toHaveLength(1);
      writeValue(path, W);
      await waitFor(() => changes.length === 1);
      expect(changes[0].current.value).toBe(W);
    });

    it("a directory in place of the file is an 'error' with code EISDIR", async () => {
      const path = taintFile(0);
      const w = open({ path, triggers: ['inotify', 'poll'], interval: 20, ignoreInitial: true });
      await nextEvent(w, 'ready');
      const eisdir = nextEvent<[Error & { code: string }]>(w, 'error', {
        accept: (e) => (e as Error & { code: string }).code === 'EISDIR',
      });
      unlinkSync(path);
      mkdirSync(path);
      const [e] = await eisdir;
      expect(e).toMatchObject({ code: 'EISDIR', syscall: 'read', path });
    });

    it("content that is not a taint value is an 'error' with ERR_KERNEL_TAINT_INVALID_VALUE", async () => {
      const path = taintFile(0);
      const w = open({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true });
      await nextEvent(w, 'ready');
      const next = nextEvent<[Error]>(w, 'error');
      writeFileSync(path, 'garbage\n');
      const [e] = await next;
      expect(e).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', path });
    });
  });

  describe('native stats', () => {
    it('counts wakeups by source and reads; the thread stops with the last watcher', async () => {
      const path = taintFile(0);
      const w = open({ path, triggers: ['inotify'], interval: 0, ignoreInitial: true });
      await nextEvent(w, 'ready');
      const s0 = stats();
      expect(s0.running).toBe(true);
      expect(s0.watches).toBe(1);
      const next = nextEvent(w, 'change');
      writeValue(path, W);
      await next;
      const s1 = stats();
      expect(s1.wakeupsBySource.inotify).toBeGreaterThan(s0.wakeupsBySource.inotify);
      expect(s1.reads).toBeGreaterThan(s0.reads);
      expect(s1.deliveries).toBe(s0.deliveries + 1);
      await w.close();
      expect(stats()).toMatchObject({ running: false, watches: 0 });
    });
  });
});
