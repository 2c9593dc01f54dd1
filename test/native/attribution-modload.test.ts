// The module-load hold's pure parts (native/attribution/module_load.h): which watchpoint callchains
// are the module loader's stores, which added bits a load can set, and how the reports of one load's
// stores fold into one. The callchains are the ones real kernels reported in QEMU guests: 6.1 from
// the attribution harness (../shared/reference/attribution/qemu-bookworm.log2.txt), 6.1, 6.12 and
// 7.3 from the watcher itself (test/fixtures/attribution/watchpoint-stacks.tsv). No kernel state is
// read or written.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/binding.js';
import { referenceFile, tsvRows } from '../helpers/reference.js';

interface Api {
  fromModuleLoader(stack: string[]): boolean;
  loaderBits(bits: number): boolean;
  mergeWatchpointCause(
    held: Record<string, number | string>,
    newer: Record<string, number | string>,
  ): Record<string, number | string>;
}
const api = (native() as unknown as { _attribution: Api })._attribution;

const P = 1 << 0;
const F = 1 << 1;
const U = 1 << 6;
const W = 1 << 9;
const C = 1 << 10;
const O = 1 << 12;
const E = 1 << 13;
const K = 1 << 15;

describe('fromModuleLoader: the loader stores of real kernels', () => {
  // "KTP wp write pid=117 comm=insmod cpu=0 time=… mask 0x40->0x1041 added=0x1001 stack: add_taint+0x16 load_module+0x170d …"
  const harness = referenceFile('attribution/qemu-bookworm.log2.txt')
    .split('\n')
    .map((l) => /^KTP wp write pid=\d+ comm=(\S+) .* added=(0x[0-9a-f]+) stack: (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ comm: m[1], added: Number.parseInt(m[2], 16), stack: m[3].trim().split(/\s+/) }));
  const fixture = tsvRows(
    readFileSync(join(__dirname, '..', 'fixtures', 'attribution', 'watchpoint-stacks.tsv'), 'utf8'),
  ).map((r) => ({
    kernel: r.kernel,
    action: r.action,
    bits: r.bits,
    loader: r.loader,
    frames: r.stack.split(' ; '),
  }));

  it('has chains of every kind from 6.1 (harness) and from 6.1, 6.12 and 7.3 (the watcher)', () => {
    expect(harness.length).toBeGreaterThanOrEqual(7);
    expect(new Set(fixture.map((r) => r.kernel.split('.').slice(0, 2).join('.')))).toEqual(
      new Set(['6.1', '6.12', '7.3']),
    );
    for (const k of ['6.1', '6.12', '7.3'])
      expect(new Set(fixture.filter((r) => r.kernel.startsWith(`${k}.`)).map((r) => r.action))).toEqual(
        new Set(['user-write', 'insmod kt_prop', 'insmod kt_warn']),
      );
  });

  it("6.1 harness: insmod's module stores are the loader's; the sysctl write and the WARN in kt_warn's init are not", () => {
    for (const h of harness) {
      // The writer is known independently of the chain: init writes the sysctl, insmod either sets a
      // module bit (or re-sets one: added 0) in load_module, or hits the WARN (added W) in the init.
      const loader = h.comm === 'insmod' && (h.added & W) === 0;
      expect({ stack: h.stack, loader: api.fromModuleLoader(h.stack) }).toEqual({ stack: h.stack, loader });
    }
    // The WARN's chain has the loader's syscall below it (do_init_module runs from load_module's caller).
    expect(harness.some((h) => (h.added & W) !== 0 && h.stack.some((f) => f.startsWith('__do_sys_finit_module')))).toBe(
      true,
    );
  });

  it("the watcher on 6.1, 6.12 and 7.3: the loader's chains are named, and only the kt_prop load is held", () => {
    for (const r of fixture) {
      const loader = api.fromModuleLoader(r.frames);
      // What the hold asks (watch_loop.cc HoldLocked): the loader's chain, adding module bits only.
      const held = loader && api.loaderBits(Number.parseInt(r.bits, 16));
      expect({ kernel: r.kernel, action: r.action, bits: r.bits, loader, held }).toEqual({
        kernel: r.kernel,
        action: r.action,
        bits: r.bits,
        loader: r.loader === 'yes',
        held: r.action === 'insmod kt_prop',
      });
    }
    // The kt_warn W that a drain named with load_module's chain is there, and is not held.
    expect(fixture.some((r) => r.action === 'insmod kt_warn' && r.loader === 'yes')).toBe(true);
  });
});

describe('fromModuleLoader: frames it must not mistake', () => {
  it('skips add_taint and add_taint_module, then decides on the first other frame', () => {
    expect(
      api.fromModuleLoader(['add_taint_module+0x2a', 'module_augment_kernel_taints+0x1b3', 'load_module+0x9']),
    ).toBe(true);
    expect(api.fromModuleLoader(['add_taint+0x1a', 'check_modinfo_livepatch+0x40', 'load_module+0x10'])).toBe(true);
    expect(api.fromModuleLoader(['add_taint+0x1a', 'load_module.cold+0x5'])).toBe(true); // a compiler clone
    expect(api.fromModuleLoader(['add_taint+0x1a', '__do_sys_finit_module+0xac'])).toBe(true); // load_module inlined
    // The module's own code, hex, the WARN machinery, do_init_module: never the loader, whatever lies below.
    expect(
      api.fromModuleLoader(['add_taint+0x1a', '.init.text+0x25 [kt_warn]', 'do_init_module+0x4a', 'load_module+0x1']),
    ).toBe(false);
    expect(api.fromModuleLoader(['add_taint+0x1a', 'load_module+0x10 [evil]'])).toBe(false); // a module's own symbol
    expect(api.fromModuleLoader(['add_taint+0x1a', '0xffffffffc0a01011', 'load_module+0x1'])).toBe(false);
    expect(api.fromModuleLoader(['add_taint+0x1a', '__warn.cold+0x6a', 'load_module+0x1922'])).toBe(false);
    expect(api.fromModuleLoader(['add_taint+0x1a', 'do_init_module+0x4a', 'load_module+0x1'])).toBe(false);
    expect(api.fromModuleLoader(['load_modules_now+0x1'])).toBe(false); // a prefix is not the function
    expect(api.fromModuleLoader(['xload_module+0x1'])).toBe(false);
  });

  it('says no for an empty, setter-only or unsymbolized chain (kallsyms hidden or not read yet)', () => {
    expect(api.fromModuleLoader([])).toBe(false);
    expect(api.fromModuleLoader(['add_taint+0x1a'])).toBe(false);
    expect(api.fromModuleLoader(['add_taint+0x1a', 'add_taint_module+0x2'])).toBe(false);
    expect(api.fromModuleLoader(['0xffffffff81377aea', '0xffffffff8120c410'])).toBe(false);
    expect(api.fromModuleLoader(['', '+0x1', ' [x]'])).toBe(false);
  });

  it('handles a huge chain of setters and rejects non-strings with a TypeError', () => {
    const big = Array.from({ length: 100_000 }, () => 'add_taint+0x1a');
    expect(api.fromModuleLoader(big)).toBe(false);
    expect(api.fromModuleLoader([...big, 'load_module+0x1'])).toBe(true);
    expect(() => api.fromModuleLoader([1 as unknown as string])).toThrow(TypeError);
    expect(() => api.fromModuleLoader('load_module' as unknown as string[])).toThrow(TypeError);
  });
});

describe('loaderBits: what a module load can set', () => {
  it('accepts module bits only (P F C O E K X T N), never W, U, nothing or a mix', () => {
    for (const b of [P, F, C, O, E, K, 1 << 16, 1 << 17, 1 << 18, P | O | E]) expect(api.loaderBits(b)).toBe(true);
    // A drain that folded the loader's no-op stores with a WARN in the new module's init reports W
    // with load_module's chain (7.3 kt_warn in the fixture): not a hold.
    for (const b of [0, W, U, W | O, 1 << 7, 1 << 4, 1 << 19, 0xffffffff]) expect(api.loaderBits(b)).toBe(false);
  });
});

describe('mergeWatchpointCause: one report for the stores of one load', () => {
  const o = {
    pid: 146,
    tid: 146,
    cpu: 0,
    timeNs: 10689649308,
    comm: 'insmod',
    site: 'load_module+0x1922',
    stack: 'add_taint+0x1a\nload_module+0x1922',
    bits: O,
    before: '0x40',
    after: '0x1040',
    samples: 1,
    writers: 1,
  };
  const p = {
    ...o,
    timeNs: 10690000000,
    site: 'load_module+0xd28',
    stack: 'add_taint+0x1a\nload_module+0xd28',
    bits: P,
    before: '0x1040',
    after: '0x1041',
  };
  const e = {
    ...o,
    timeNs: 10693000000,
    site: 'load_module+0xf0f',
    bits: E,
    before: '0x1041',
    after: '0x3041',
    samples: 2,
  };

  it('ORs the bits, keeps the first store (time, site, stack, before), takes the last after, adds samples', () => {
    const m = api.mergeWatchpointCause(api.mergeWatchpointCause(o, p), e);
    expect(m).toEqual({ ...o, bits: O | P | E, after: '0x3041', samples: 4 });
  });

  it("keeps the highest writers count (a drain of several threads' traps names nobody)", () => {
    expect(api.mergeWatchpointCause(o, { ...p, writers: 2 }).writers).toBe(2);
    expect(api.mergeWatchpointCause({ ...o, writers: 2 }, p).writers).toBe(2);
  });

  it('replaces a report of another thread (what an unheld change does) and fills an empty one', () => {
    const other = { ...p, pid: 7, tid: 7, comm: 'sh' };
    expect(api.mergeWatchpointCause(o, other)).toEqual(other);
    expect(api.mergeWatchpointCause({}, p)).toEqual(p);
  });

  it('rejects what is not an object of numbers and strings', () => {
    expect(() => api.mergeWatchpointCause(o, null as unknown as Record<string, number>)).toThrow(TypeError);
    expect(() => api.mergeWatchpointCause({ a: [] as unknown as number }, p)).toThrow(TypeError);
  });
});

describe('watchStats counts the holds', () => {
  it('has the module-load hold counters, zero on a host that loads no modules', () => {
    const s = native().watchStats() as unknown as Record<string, number>;
    for (const k of [
      'moduleLoadHolds',
      'moduleLoadHoldsLoaded',
      'moduleLoadHoldsExpired',
      'moduleLoadHoldsCut',
      'moduleLoadHoldNs',
      'moduleLoadsWhole',
    ])
      expect(s[k]).toBe(0);
  });
});
