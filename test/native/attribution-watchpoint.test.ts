// The 'watchpoint' source end to end on THIS host, without touching the
// kernel's taint: an 8-byte variable of a child we compile and start stands in
// for tainted_mask. It proves the path a kernel write takes: perf_event_open
// per target, the mmap ring, the epoll wakeup of the watch thread, the drain,
// the re-read of the mask and of the watched file, the coalescing of writes
// that change nothing, and delivery to JS with the writer as actor. The child
// writes the file first and then the variable, in the order the kernel sets a
// bit and the sysctl reads it. `_watchpointTarget` is test-only.
// Two ways to trap the child's store, same code path after perf_event_open:
// - 'breakpoint': a hardware write watchpoint (exclude_kernel), exactly the
//   kernel source's attr. Some hypervisors (Firecracker, which runs this CI)
//   never deliver debug traps to the guest: the child checks, and the test
//   says so and skips this variant there.
// - 'uretprobe': a return probe on the child's set_mask(), which fires after
//   the store; it works wherever perf uprobes do.
import { type ChildProcessWithoutNullStreams, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isSupported, native } from '../../lib/binding.js';
import { type TaintChange, type TaintWatcher, watchTaint } from '../../lib/watch.js';
import { nextEvent } from '../helpers/events.js';
import { fdsOfKind, writeValue } from '../helpers/fs.js';
import { ROOT } from '../helpers/reference.js';
import { tempDir } from '../helpers/tmp.js';

const W = 1 << 9;
const U = 1 << 6;

function paranoid(): number {
  try {
    return Number(readFileSync('/proc/sys/kernel/perf_event_paranoid', 'utf8'));
  } catch {
    return 99;
  }
}
function hasCc(): boolean {
  try {
    execFileSync('cc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const uprobePmu = existsSync('/sys/bus/event_source/devices/uprobe/type');
const canRun = isSupported() && paranoid() <= 2 && hasCc();
if (!canRun) {
  console.log(
    `SKIP attribution-watchpoint: needs the addon, a C compiler and perf_event_paranoid <= 2 (is ${paranoid()})`,
  );
}

let tmp: string;
let exe: string;

class Child {
  readonly proc: ChildProcessWithoutNullStreams;
  readonly lines: string[] = [];
  #waiters: ((l: string) => void)[] = [];
  constructor(file: string) {
    this.proc = spawn(exe, [file]);
    createInterface({ input: this.proc.stdout }).on('line', (l) => {
      const w = this.#waiters.shift();
      if (w) w(l);
      else this.lines.push(l);
    });
  }
  line(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('child did not answer')), 10_000);
      this.#waiters.push((x) => {
        clearTimeout(t);
        resolve(x);
      });
    });
  }
  async send(cmd: string): Promise<void> {
    this.proc.stdin.write(`${cmd}\n`);
    expect(await this.line()).toBe('ok');
  }
  kill(): void {
    this.proc.kill('SIGKILL');
  }
}

const children: Child[] = [];
const watchers: TaintWatcher[] = [];

beforeAll(() => {
  if (!canRun) return;
  tmp = tempDir('kt-wp-', 'file');
  exe = join(tmp, 'kt-wp-child');
  execFileSync('cc', ['-O1', '-o', exe, join(ROOT, 'test/native/fixtures/wp-child.c')]);
});
afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
  for (const c of children.splice(0)) c.kill();
});

type Mode = 'breakpoint' | 'uretprobe';
let breakpointsFire = false;

async function start(
  mode: Mode,
  value = 0,
  hold?: { holdAsLoader: true; interval: number },
): Promise<{ child: Child; watcher: TaintWatcher; file: string }> {
  const file = join(tmp, `tainted-${children.length}`);
  writeValue(file, value);
  const child = new Child(file);
  children.push(child);
  const [address, offset, bp] = (await child.line()).split(' ');
  expect(address).toMatch(/^0x[0-9a-f]+$/);
  expect(offset).toMatch(/^0x[0-9a-f]+$/);
  breakpointsFire = bp === '1';
  if (value !== 0) await child.send(`set ${value}`);
  const watcher = watchTaint({
    path: file,
    triggers: hold ? ['watchpoint', 'poll'] : ['watchpoint'],
    interval: hold?.interval ?? 0,
    ignoreInitial: true,
    _watchpointTarget: {
      pid: child.proc.pid as number,
      address,
      ...(mode === 'uretprobe' ? { probe: { path: exe, offset } } : {}),
      ...(hold ? { holdAsLoader: true } : {}),
    },
  });
  watchers.push(watcher);
  return { child, watcher, file };
}

/** Whether hardware breakpoints fire on this machine (the child tests it on itself). */
async function probeBreakpoints(): Promise<boolean> {
  const child = new Child(join(tmp, 'probe'));
  const bp = (await child.line()).split(' ')[2];
  child.kill();
  return bp === '1';
}

describe.skipIf(!canRun)("'watchpoint' source on a user-space variable of a child", () => {
  it('runs where hardware breakpoints fire, else says why the breakpoint variant is skipped', async () => {
    const fire = await probeBreakpoints();
    if (!fire) {
      console.log(
        "SKIP the 'breakpoint' variant: perf hardware breakpoints never fire on this machine (the hypervisor does not deliver debug traps); the 'uretprobe' variant proves the same ring/epoll/delivery path",
      );
    }
    expect(typeof fire).toBe('boolean');
  });
});

for (const mode of ['uretprobe', 'breakpoint'] as const) {
  describe.skipIf(!canRun || (mode === 'uretprobe' && !uprobePmu))(
    `'watchpoint' source, ${mode} on a child's variable`,
    () => {
      const begin = async (value = 0) => {
        const r = await start(mode, value);
        return r;
      };
      const skipUnlessFires = (ctx: { skip: () => void }) => {
        if (mode === 'breakpoint' && !breakpointsFire) ctx.skip();
      };
      it("arms on the child, says so in 'ready', and delivers a write with the child as actor", async (ctx) => {
        const { child, watcher } = await begin();
        skipUnlessFires(ctx);
        const [triggers, info] = (await nextEvent(watcher, 'ready')) as [string[], { attribution: unknown[] }];
        expect(triggers).toEqual(['watchpoint']);
        expect(info.attribution).toEqual([
          { source: 'watchpoint', armed: true, reason: null },
          { source: 'tracepoint', armed: false, reason: 'tracepoint: not requested (triggers)' },
        ]);
        const changed = nextEvent<[TaintChange]>(watcher, 'change', { timeoutMs: 10_000 });
        await child.send(`set ${U}`);
        const [c] = await changed;
        expect(c.trigger).toBe('watchpoint');
        expect(c.current.value).toBe(U);
        expect(c.added.map((f) => f.letter)).toEqual(['U']);
        expect(c.actor).toEqual({
          kind: 'process',
          pid: child.proc.pid,
          tid: child.proc.pid,
          comm: 'kt-wp-child',
          exe: expect.stringMatching(/kt-wp-child$/),
          uid: process.getuid?.(),
          via: 'watchpoint',
        });
        expect(c.attribution).toHaveLength(1);
        expect(c.attribution[0]).toMatchObject({
          via: 'watchpoint',
          pid: child.proc.pid,
          before: 0,
          after: U,
          bits: U,
        });
        expect(c.attribution[0].samples).toBeGreaterThanOrEqual(1);
      });

      it('gives an incidental actor for W and reports every bit added', async (ctx) => {
        const { child, watcher } = await begin(U);
        skipUnlessFires(ctx);
        await nextEvent(watcher, 'ready');
        const changed = nextEvent<[TaintChange]>(watcher, 'change', { timeoutMs: 10_000 });
        await child.send(`set ${U | W}`);
        const [c] = await changed;
        expect(c.added.map((f) => f.letter)).toEqual(['W']);
        expect(c.actor?.kind).toBe('incidental');
        expect(c.attribution[0]).toMatchObject({ before: U, after: U | W, bits: W });
      });

      it('folds a storm of 1,000 writes that change nothing into no JS call at all', async (ctx) => {
        const { child, watcher } = await begin(W);
        skipUnlessFires(ctx);
        await nextEvent(watcher, 'ready');
        const changes: TaintChange[] = [];
        watcher.on('change', (c) => changes.push(c));
        const s0 = native().watchStats() as unknown as Record<string, number>;
        await child.send('storm 1000');
        // Then one real change, so we know the storm's samples were all drained before it.
        const changed = nextEvent<[TaintChange]>(watcher, 'change', { timeoutMs: 10_000 });
        await child.send(`set ${W | U}`);
        await changed;
        const s1 = native().watchStats() as unknown as Record<string, number>;
        const samples = s1.watchpointSamples - s0.watchpointSamples;
        expect(samples).toBeGreaterThanOrEqual(1001); // one trap per store
        // Every trap is accounted for: folded as a no-op, or (storm traps the thread drained in
        // the same pass as the real change's trap) counted in that change's one report.
        const folded = s1.watchpointCoalesced - s0.watchpointCoalesced;
        expect(folded + (changes[0]?.attribution?.[0]?.samples ?? 0)).toBe(samples);
        expect(folded).toBeGreaterThanOrEqual(900);
        expect(s1.jsCalls - s0.jsCalls).toBe(1); // the real change only
        expect(changes).toHaveLength(1);
        expect(changes[0].added.map((f) => f.letter)).toEqual(['U']);
      });

      // The module-load hold (native/watch_loop.cc HoldLocked) on real perf samples: the target's writes stand
      // for loader stores (test-only holdAsLoader) whose module_load never fires, so only the deadline ends it.
      it('holds a load of three stores as one change and ends it at the 1 s deadline; a poll does not split it', async (ctx) => {
        const P = 1 << 0;
        const O = 1 << 12;
        const E = 1 << 13;
        const { child, watcher } = await start(mode, 0, { holdAsLoader: true, interval: 50 });
        skipUnlessFires(ctx);
        await nextEvent(watcher, 'ready');
        const changes: { c: TaintChange; at: number }[] = [];
        watcher.on('change', (c) => changes.push({ c, at: performance.now() }));
        const s0 = native().watchStats() as unknown as Record<string, number>;
        const t0 = performance.now();
        // Three stores 30 ms apart (each its own drain and read; the 50 ms poll reads between them too).
        await child.send(`set ${O}`);
        await new Promise((r) => setTimeout(r, 30));
        await child.send(`set ${O | P}`);
        await new Promise((r) => setTimeout(r, 30));
        await child.send(`set ${O | P | E}`);
        await new Promise((r) => setTimeout(r, 400));
        expect(changes).toHaveLength(0); // still held
        const deadline = Date.now() + 5000;
        while (changes.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        expect(changes).toHaveLength(1);
        const [{ c, at }] = changes;
        // Released by the deadline: 1 s after the first store was read, never much later.
        expect(at - t0).toBeGreaterThanOrEqual(950);
        expect(at - t0).toBeLessThan(2500);
        expect(c.trigger).toBe('watchpoint');
        expect(c.added.map((f) => f.letter).sort()).toEqual(['E', 'O', 'P']);
        expect(c.actor).toMatchObject({ kind: 'process', pid: child.proc.pid });
        // One report of the three stores: the first one's before, the last one's after, every bit.
        expect(c.attribution).toHaveLength(1);
        expect(c.attribution[0]).toMatchObject({ via: 'watchpoint', before: 0, after: O | P | E, bits: O | P | E });
        expect(c.attribution[0].samples).toBeGreaterThanOrEqual(3);
        const s1 = native().watchStats() as unknown as Record<string, number>;
        expect(s1.moduleLoadHolds - s0.moduleLoadHolds).toBe(1);
        expect(s1.moduleLoadHoldsExpired - s0.moduleLoadHoldsExpired).toBe(1);
        expect(s1.moduleLoadHoldsLoaded - s0.moduleLoadHoldsLoaded).toBe(0);
        expect(s1.moduleLoadHoldsCut - s0.moduleLoadHoldsCut).toBe(0);
        expect(s1.moduleLoadHoldNs - s0.moduleLoadHoldNs).toBeGreaterThanOrEqual(990e6);
        expect(s1.moduleLoadHoldNs - s0.moduleLoadHoldNs).toBeLessThan(2e9);
        // A bit no module load sets (U) is never held.
        const u = nextEvent<[TaintChange]>(watcher, 'change', { timeoutMs: 10_000 });
        const t1 = performance.now();
        await child.send(`set ${O | P | E | U}`);
        const [cu] = await u;
        expect(cu.added.map((f) => f.letter)).toEqual(['U']);
        expect(performance.now() - t1).toBeLessThan(500);
        const s2 = native().watchStats() as unknown as Record<string, number>;
        expect(s2.moduleLoadHolds - s1.moduleLoadHolds).toBe(0);
      });

      it('closes every perf fd on close()', async (ctx) => {
        const perfFds = (): number => fdsOfKind('perf_event');
        const before = perfFds();
        const { watcher } = await begin();
        skipUnlessFires(ctx);
        await nextEvent(watcher, 'ready');
        expect(perfFds()).toBeGreaterThan(before);
        await watcher.close();
        expect(perfFds()).toBe(before);
      });
    },
  );
}
