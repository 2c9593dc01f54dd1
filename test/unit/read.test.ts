import { spawnSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isSupported, readTaint, readTaintValue, TAINT_PATH } from '../../lib/index.js';
import { cleanupArtifacts, script } from '../helpers/bundle.js';
import { taintFile, tempDir } from '../helpers/tmp.js';

describe.runIf(process.platform === 'linux')('readTaintValue', () => {
  it('is supported on Linux with the built addon', () => {
    expect(isSupported()).toBe(true);
  });

  it('reads this kernel the same as the file says', async () => {
    const { readFileSync } = await import('node:fs');
    expect(readTaintValue()).toBe(Number(readFileSync(TAINT_PATH, 'utf8')));
  });

  it('reads a value, and sees rewrites through the kept descriptor', () => {
    const p = taintFile('12289\n');
    expect(readTaintValue({ path: p })).toBe(12289);
    writeFileSync(p, '4096\n');
    expect(readTaintValue({ path: p })).toBe(4096);
    writeFileSync(p, '4294967295');
    expect(readTaintValue({ path: p })).toBe(4294967295);
  });

  it('throws a Node-style ENOENT for a missing file', () => {
    const p = join(tempDir(), 'missing');
    expect(() => readTaintValue({ path: p })).toThrow(
      expect.objectContaining({
        code: 'ENOENT',
        errno: -2,
        syscall: 'open',
        path: p,
        message: `ENOENT: no such file or directory, open '${p}'`,
      }),
    );
  });

  it('throws EISDIR (read) for a directory', () => {
    const d = tempDir();
    expect(() => readTaintValue({ path: d })).toThrow(
      expect.objectContaining({ code: 'EISDIR', syscall: 'read', path: d }),
    );
  });

  it('reads the new file after the path is removed and recreated, not the kept inode', () => {
    const p = taintFile('1');
    expect(readTaintValue({ path: p })).toBe(1);
    unlinkSync(p);
    writeFileSync(p, '2');
    expect(readTaintValue({ path: p })).toBe(2);
  });

  it('reads the new file after the path is replaced by rename, even while the old one keeps a link', () => {
    const p = taintFile('1');
    const keep = `${p}.old`;
    expect(readTaintValue({ path: p })).toBe(1);
    linkSync(p, keep); // the old inode stays alive with a link count of 1
    writeFileSync(`${p}.new`, '3');
    renameSync(`${p}.new`, p);
    expect(readTaintValue({ path: p })).toBe(3);
    unlinkSync(p);
    expect(() => readTaintValue({ path: p })).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'open' }));
  });

  it.each([
    ['', 'empty'],
    ['\n', 'empty'],
    ['abc', 'invalid'],
    [' 5', 'invalid'],
    ['-1', 'invalid'],
    ['5\n\n', 'invalid'],
    ['0x10', 'invalid'],
    ['4294967296', 'range'],
    ['99999999999999999999999', 'range'],
  ])('rejects content %j (%s)', (content) => {
    const p = taintFile(content);
    expect(() => readTaintValue({ path: p })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_VALUE', name: 'TaintValueError', path: p }),
    );
  });

  it('agrees with the native parser on the same cases', async () => {
    const { native } = await import('../../lib/binding.js');
    expect(native().parseText('42\n')).toBe(42);
    expect(native().parseText('4294967295')).toBe(4294967295);
    expect(native().parseText('4294967296')).toMatchObject({ reason: 'range' });
    expect(native().parseText('')).toMatchObject({ reason: 'empty' });
    expect(native().parseText(`${'0'.repeat(31)}1`)).toBe(1); // 32 bytes: still read whole
    expect(native().parseText(`${'0'.repeat(32)}1`)).toMatchObject({ reason: 'long' });
  });

  it.runIf(process.getuid?.() === 0)('throws EACCES for an unreadable file (as an unprivileged user)', async () => {
    const p = taintFile('1');
    chmodSync(p, 0o600);
    chmodSync(join(p, '..'), 0o755);
    // The library comes from a world-readable temp package: the checkout may be in a 0700 directory.
    const f = await script(
      'eacces',
      `try { kt.readTaintValue({ path: ${JSON.stringify(p)} }); console.log('no error'); }
       catch (e) { console.log(JSON.stringify({ code: e.code, errno: e.errno, syscall: e.syscall, path: e.path })); }`,
    );
    try {
      const r = spawnSync(process.execPath, [f], { uid: 65534, gid: 65534, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toEqual({ code: 'EACCES', errno: -13, syscall: 'open', path: p });
    } finally {
      await cleanupArtifacts([f]);
    }
  });

  it('rejects a bad path argument', () => {
    expect(() => readTaintValue({ path: '' })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
    expect(() => readTaintValue({ path: 5 as never })).toThrow(
      expect.objectContaining({ code: 'ERR_KERNEL_TAINT_INVALID_ARG' }),
    );
  });

  it('keeps a bounded number of descriptors over many paths', () => {
    const fds = () => spawnSync('ls', [`/proc/${process.pid}/fd`], { encoding: 'utf8' }).stdout.split('\n').length;
    const before = fds();
    const d = tempDir();
    for (let i = 0; i < 200; i++) {
      const p = join(d, `t${i}`);
      writeFileSync(p, String(i));
      expect(readTaintValue({ path: p })).toBe(i);
    }
    expect(fds() - before).toBeLessThanOrEqual(17);
  });
});

describe.runIf(process.platform === 'linux')('readTaint', () => {
  it('decodes what it reads', () => {
    const s = readTaint({ path: taintFile('4609\n'), profile: 'mainline' });
    expect(s.letters).toBe('PWO');
    expect(s.has('W')).toBe(true);
    expect(s.kernelLetters).toBeNull();
    expect(s.lettersMismatch).toBe(false);
  });

  it('reads tainted_chars where it exists and reports a mismatch instead of hiding it', () => {
    const d = tempDir();
    mkdirSync(join(d, 'k'));
    const p = join(d, 'k', 'tainted');
    const chars = join(d, 'k', 'tainted_chars');
    writeFileSync(p, '4097\n');
    writeFileSync(chars, 'PO\n');
    const ok = readTaint({ path: p, charsPath: chars, profile: 'peios' });
    expect(ok).toMatchObject({ letters: 'PO', kernelLetters: 'PO', lettersMismatch: false });
    writeFileSync(chars, 'P\n');
    const bad = readTaint({ path: p, charsPath: chars, profile: 'peios' });
    expect(bad).toMatchObject({ letters: 'PO', kernelLetters: 'P', lettersMismatch: true });
    expect(JSON.parse(JSON.stringify(bad))).toMatchObject({ kernelLetters: 'P', lettersMismatch: true, value: 4097 });
  });

  it('picks the profile of the running system by default', () => {
    expect(['mainline', 'rhel6', 'rhel7', 'rhel8', 'rhel9', 'suse', 'peios']).toContain(readTaint().profile);
  });
});
