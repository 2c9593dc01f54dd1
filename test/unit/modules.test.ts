import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { decodeTaint } from '../../lib/decode.js';
import { profileTable } from '../../lib/flags.js';
import {
  attributeModules,
  moduleListReads,
  noteModuleBits,
  parseProcModules,
  readModuleTaints,
  vouchForModules,
} from '../../lib/modules.js';
import { bits } from '../helpers/modules.js';
import { tempDir } from '../helpers/tmp.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/proc-modules/${name}`, import.meta.url));

// Real /proc/modules lines (taint letters in parentheses at the end).
const PROC_MODULES = `kt_warn 16384 0 - Live 0x0000000000000000 (O)
kt_prop 16384 0 - Live 0x0000000000000000 (POE)
nvidia_uvm 1667072 0 - Live 0x0000000000000000 (POE)
kt_gpl 16384 0 - Live 0x0000000000000000
e1000e 356352 0 - Live 0x0000000000000000
`;

let tmp: string;
beforeEach(() => {
  tmp = tempDir('kt-modules-');
});

function sysModuleTree(entries: Record<string, string | null>): string {
  const dir = join(tmp, 'module');
  mkdirSync(dir);
  for (const [name, taint] of Object.entries(entries)) {
    mkdirSync(join(dir, name));
    if (taint !== null) writeFileSync(join(dir, name, 'taint'), taint);
  }
  return dir;
}

describe('readModuleTaints', () => {
  it('matches /sys/module/*/taint on this host (empty when no module taints, as on a modules-less kernel)', () => {
    const expected: Record<string, string> = {};
    for (const m of readdirSync('/sys/module')) {
      try {
        const s = readFileSync(`/sys/module/${m}/taint`, 'utf8').trim();
        if (s) expected[m] = s;
      } catch {}
    }
    const got = Object.fromEntries(readModuleTaints().map((m) => [m.name, m.letters]));
    expect(got).toEqual(expected);
  });

  it('reads sysfs: tainted modules only, built-ins (no taint file) and clean modules left out', () => {
    const dir = sysModuleTree({ kt_prop: 'POE\n', kt_gpl: '\n', ext4: null, kt_warn: 'O\n' });
    const got = readModuleTaints({ _sysModuleDir: dir, profile: 'mainline' });
    expect(got.map((m) => [m.name, m.letters, m.flags.map((f) => f.name)])).toEqual([
      ['kt_prop', 'POE', ['PROPRIETARY_MODULE', 'OOT_MODULE', 'UNSIGNED_MODULE']],
      ['kt_warn', 'O', ['OOT_MODULE']],
    ]);
  });

  it('prefers /proc/modules (one read) over /sys/module when both exist', () => {
    const proc = join(tmp, 'modules');
    writeFileSync(proc, PROC_MODULES);
    const sys = sysModuleTree({ only_in_sysfs: 'O\n' });
    const got = readModuleTaints({ _sysModuleDir: sys, _procModulesPath: proc, profile: 'mainline' });
    expect(got.map((m) => m.name)).toEqual(['kt_prop', 'kt_warn', 'nvidia_uvm']);
  });

  it('falls back to /sys/module when /proc/modules is missing', () => {
    const sys = sysModuleTree({ only_in_sysfs: 'O\n' });
    const got = readModuleTaints({ _sysModuleDir: sys, _procModulesPath: join(tmp, 'none'), profile: 'mainline' });
    expect(got.map((m) => [m.name, m.letters])).toEqual([['only_in_sysfs', 'O']]);
  });

  it('falls back to /proc/modules when /sys/module is missing', () => {
    const proc = join(tmp, 'modules');
    writeFileSync(proc, PROC_MODULES);
    const got = readModuleTaints({ _sysModuleDir: join(tmp, 'none'), _procModulesPath: proc, profile: 'mainline' });
    expect(got.map((m) => [m.name, m.letters])).toEqual([
      ['kt_prop', 'POE'],
      ['kt_warn', 'O'],
      ['nvidia_uvm', 'POE'],
    ]);
  });

  it('is empty when neither exists (a kernel without loadable modules)', () => {
    expect(readModuleTaints({ _sysModuleDir: join(tmp, 'a'), _procModulesPath: join(tmp, 'b') })).toEqual([]);
  });

  it('parseProcModules ignores lines without taint and malformed lines', () => {
    const t = profileTable('mainline');
    expect(parseProcModules('', t)).toEqual([]);
    expect(
      parseProcModules('garbage\n(POE)\nx 1 0 - Live 0x0 (OX)\n', t).map((m) => m.flags.map((f) => f.letter)),
    ).toEqual([['O', 'X']]);
  });
});

describe('/proc/modules format (kernel/module/procfs.c m_show, module_flags)', () => {
  const t = profileTable('mainline');
  const expected = [
    ['hello', 'POE', ['PROPRIETARY_MODULE', 'OOT_MODULE', 'UNSIGNED_MODULE']],
    ['kt_going', 'POE', ['PROPRIETARY_MODULE', 'OOT_MODULE', 'UNSIGNED_MODULE']],
    ['kt_loading', 'OE', ['OOT_MODULE', 'UNSIGNED_MODULE']],
    ['vboxdrv', 'OE', ['OOT_MODULE', 'UNSIGNED_MODULE']],
  ];
  const rows = (text: string) => parseProcModules(text, t).map((m) => [m.name, m.letters, m.flags.map((f) => f.name)]);

  it('root: Loading (+) and Unloading (-) marks are not letters; clean and [permanent] lines are handled', () => {
    expect(rows(readFileSync(fixture('root.txt'), 'utf8'))).toEqual(expected);
  });

  it('unprivileged (0x0000000000000000 addresses) reads the same', () => {
    expect(rows(readFileSync(fixture('unprivileged.txt'), 'utf8'))).toEqual(expected);
  });

  it('a kernel without CONFIG_MODULE_UNLOAD (" - -" refcount and deps)', () => {
    expect(rows(readFileSync(fixture('no-unload.txt'), 'utf8')).map((r) => [r[0], r[1]])).toEqual([
      ['hello', 'OE'],
      ['kt_stage', 'C'],
    ]);
  });

  it('the recorded 6.1 line (real-kernels.md) and CRLF/trailing blanks', () => {
    expect(rows('hello 16384 0 - Live 0xffffffffc02e4000 (OE)\r\nx 1 0 - Live 0x0 (O)  \n')).toEqual([
      ['hello', 'OE', ['OOT_MODULE', 'UNSIGNED_MODULE']],
      ['x', 'O', ['OOT_MODULE']],
    ]);
  });

  it('adversarial text: no crash, nothing invented, linear on a huge input', () => {
    expect(rows('(O)\n ()\nx (+)\ny 1 0 - Live 0x0 (o)\nz 1 0 - Live 0x0 (O\n\0\n')).toEqual([]);
    const huge = `${'m 1 0 - Live 0x0\n'.repeat(200_000)}last 1 0 - Live 0x0 (P)\n${'('.repeat(100_000)}`;
    const t0 = performance.now();
    expect(rows(huge).map((r) => r[0])).toEqual(['last']);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('the one module-list cache', () => {
  // A fake /proc/modules with n modules, `tainting` of them with letters.
  function procModules(n: number, tainting: Record<string, string>): string {
    const file = join(tmp, 'proc-modules');
    const lines = Array.from({ length: n }, (_, i) => `mod${i} 16384 0 - Live 0x0000000000000000`);
    for (const [name, letters] of Object.entries(tainting)) {
      lines.push(`${name} 16384 0 - Live 0x0000000000000000 (${letters})`);
    }
    writeFileSync(file, `${lines.join('\n')}\n`);
    return file;
  }
  const turn = () => new Promise((r) => setImmediate(r));

  it('one read per synchronous turn without a watcher; every later turn reads again', async () => {
    const path = procModules(5, { a: 'O' });
    const r0 = moduleListReads();
    readModuleTaints({ _procModulesPath: path, profile: 'mainline' });
    readModuleTaints({ _procModulesPath: path, profile: 'mainline' });
    attributeModules(decodeTaint(bits('O')).flags, 'mainline', { _procModulesPath: path });
    expect(moduleListReads() - r0).toBe(1);
    await turn();
    procModules(5, { a: 'O', b: 'P' });
    expect(readModuleTaints({ _procModulesPath: path, profile: 'mainline' }).map((m) => m.name)).toEqual(['a', 'b']);
    expect(moduleListReads() - r0).toBe(2);
  });

  it('reads a /proc/modules larger than its buffer whole (5,000 modules, ~300 kB)', () => {
    const path = procModules(5000, { zz_last: 'PO' });
    expect(readModuleTaints({ _procModulesPath: path, profile: 'mainline' }).map((m) => m.name)).toEqual(['zz_last']);
  });

  it('returns a copy: a caller that mutates the array does not change the cached list', () => {
    const path = procModules(1, { a: 'O', b: 'P' });
    const first = readModuleTaints({ _procModulesPath: path, profile: 'mainline' });
    first.length = 0;
    expect(readModuleTaints({ _procModulesPath: path, profile: 'mainline' })).toHaveLength(2);
  });

  it('a vouching uevent count keeps the list across turns until it moves, up to 1 s', async () => {
    let events = 7;
    const unvouch = vouchForModules(() => events);
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const path = procModules(3, { a: 'O' });
      const r0 = moduleListReads();
      readModuleTaints({ _procModulesPath: path });
      await turn();
      procModules(3, { a: 'O', b: 'P' }); // no uevent: the kernel did not announce it
      expect(readModuleTaints({ _procModulesPath: path }).map((m) => m.name)).toEqual(['a']);
      expect(moduleListReads() - r0).toBe(1);
      events++; // a module add/remove uevent
      await turn();
      expect(readModuleTaints({ _procModulesPath: path }).map((m) => m.name)).toEqual(['a', 'b']);
      expect(moduleListReads() - r0).toBe(2);
      procModules(3, { c: 'E' });
      await turn();
      vi.advanceTimersByTime(999);
      expect(readModuleTaints({ _procModulesPath: path }).map((m) => m.name)).toEqual(['a', 'b']);
      vi.advanceTimersByTime(2);
      expect(readModuleTaints({ _procModulesPath: path }).map((m) => m.name)).toEqual(['c']);
      expect(moduleListReads() - r0).toBe(3);
    } finally {
      vi.useRealTimers();
      unvouch();
    }
  });

  it('a change of the module bits of the taint value drops the list, the same bits again do not', async () => {
    const events = 0;
    const unvouch = vouchForModules(() => events);
    try {
      const path = procModules(3, { a: 'O' });
      noteModuleBits(0);
      const r0 = moduleListReads();
      readModuleTaints({ _procModulesPath: path });
      noteModuleBits(0);
      await turn();
      readModuleTaints({ _procModulesPath: path });
      expect(moduleListReads() - r0).toBe(1);
      noteModuleBits(bits('O'));
      readModuleTaints({ _procModulesPath: path });
      expect(moduleListReads() - r0).toBe(2);
    } finally {
      unvouch();
    }
  });
});

describe('attributeModules', () => {
  it('splits added flags into module carriers and unattributable flags', () => {
    const dir = sysModuleTree({ kt_prop: 'POE\n', kt_x: 'X\n' });
    const added = decodeTaint((1 << 0) | (1 << 9) | (1 << 7)).flags; // P, W, D
    const m = attributeModules(added, 'mainline', { _sysModuleDir: dir });
    expect(m.carrying.map((x) => x.name)).toEqual(['kt_prop']);
    expect(m.unattributable.map((f) => f.letter)).toEqual(['D', 'W']);
  });

  it('does not touch the file system when no module flag was added', () => {
    const m = attributeModules(decodeTaint(1 << 9).flags, 'mainline', { _sysModuleDir: '/definitely/not/here' });
    expect(m.carrying).toEqual([]);
    expect(m.unattributable.map((f) => f.letter)).toEqual(['W']);
    expect(attributeModules([], 'mainline')).toEqual({ carrying: [], unattributable: [] });
  });
});
