import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { decodeTaint } from '../../lib/decode.js';
import { profileTable } from '../../lib/flags.js';
import { attributeModules, parseProcModules, readModuleTaints } from '../../lib/modules.js';
import { tempDir } from '../helpers/tmp.js';

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
