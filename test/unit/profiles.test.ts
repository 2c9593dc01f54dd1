import { describe, expect, it } from 'vitest';
import { fromNative } from '../../lib/errors.js';
import {
  decodeTaint,
  detectProfile,
  formatTaint,
  PROFILE_IDS,
  PROFILE_NAMES,
  parseProfile,
  parseTaint,
  profileForRelease,
  readModuleTaints,
  resolveProfile,
} from '../../lib/index.js';
import { tempDir } from '../helpers/tmp.js';

describe('profiles', () => {
  it('accepts every profile name in any case and trims it', () => {
    for (const p of PROFILE_NAMES) {
      expect(parseProfile(p)).toBe(p);
      expect(parseProfile(p.toUpperCase())).toBe(p);
      expect(parseProfile(` ${p[0].toUpperCase()}${p.slice(1)} `)).toBe(p);
    }
    expect(parseProfile(undefined)).toBe('auto');
  });

  it('rejects anything else with ERR_KERNEL_TAINT_INVALID_ARG', () => {
    for (const bad of ['windows', '', 'rhel11', 42, null, {}, ['mainline']]) {
      expect(() => parseProfile(bad)).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }));
    }
    expect(() => parseProfile('windows')).toThrow("unknown profile 'windows'");
  });

  it('resolves auto through the given fallback, lazily', () => {
    let calls = 0;
    const lazy = () => {
      calls++;
      return 'suse' as const;
    };
    expect(resolveProfile('RHEL8' as never, lazy)).toBe('rhel8');
    expect(calls).toBe(0);
    expect(resolveProfile('auto', lazy)).toBe('suse');
    expect(resolveProfile(undefined, 'mainline')).toBe('mainline');
    expect(calls).toBe(1);
  });

  it('maps kernel releases to vendor profiles', () => {
    expect(profileForRelease('4.18.0-477.el8.x86_64')).toBe('rhel8');
    expect(profileForRelease('3.10.0-1160.el7.x86_64')).toBe('rhel7');
    expect(profileForRelease('6.1.0-27-cloud-amd64')).toBe('mainline');
    expect(profileForRelease(undefined)).toBe('mainline');
    expect(profileForRelease(null)).toBe('mainline');
  });

  it('detects a concrete profile for this system, once', () => {
    const p = detectProfile();
    expect(PROFILE_IDS).toContain(p);
    expect(detectProfile()).toBe(p);
  });

  it('is honoured case-insensitively by every API that takes a profile', () => {
    expect(decodeTaint(0x20000000, { profile: 'RHEL8' as never }).names).toEqual(['TECH_PREVIEW']);
    expect(formatTaint(1, { profile: 'Mainline' as never })).toBe(formatTaint(1, { profile: 'mainline' }));
    expect(parseTaint('Tainted: G W', { profile: 'SUSE' as never })?.profile).toBe('suse');
    const dir = tempDir();
    expect(
      readModuleTaints({ profile: 'MAINLINE' as never, _sysModuleDir: dir, _procModulesPath: `${dir}/x` }),
    ).toEqual([]);
    for (const call of [
      () => decodeTaint(1, { profile: 'windows' as never }),
      () => formatTaint(1, { profile: 'windows' as never }),
      () => parseTaint('Tainted: G W', { profile: 'windows' as never }),
    ]) {
      expect(call).toThrow(expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }));
    }
  });
});

describe('fromNative: the one native error mapper', () => {
  it('maps content errors to TaintValueError with path and content', () => {
    const empty = fromNative({ errno: 0, syscall: 'read', path: '/x', reason: 'empty', content: '' });
    expect(empty).toMatchObject({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', path: '/x', content: '' });
    expect(empty.message).toBe('/x is empty');
    const inv = fromNative({ errno: 0, syscall: 'read', path: '/x', reason: 'invalid', content: 'abc' });
    expect(inv).toMatchObject({ name: 'TaintValueError', content: 'abc' });
    expect(inv.message).toBe('/x holds no decimal taint value: "abc"');
    const range = fromNative({ errno: 0, syscall: 'read', path: '/x', reason: 'range', content: '99999999999' });
    expect(range.message).toMatch(/does not fit in 32 bits/);
  });

  it('maps failed system calls to Node-style system errors', () => {
    const e = fromNative({ errno: 2, syscall: 'open', path: '/nope' });
    expect(e).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: '/nope' });
    expect(e.message).toBe("ENOENT: no such file or directory, open '/nope'");
    expect(fromNative({ errno: 13, syscall: 'read', path: '' })).not.toHaveProperty('path');
  });
});
