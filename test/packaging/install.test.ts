// What a user gets: `npm pack` the package (after `npm run build` and
// `npm run prebuilds`), install the tarball into a fresh project with a PATH
// that holds only node and npm (no g++, make, python3, cmake), and use it.
// The install must take the prebuild (node-gyp-build's install step finds a
// loadable binary and does nothing), the CLI must run through npx, and
// node-gyp-build must be the only package needed at run time. A second
// install forces the binding.gyp fallback compile, the path taken when no
// prebuild matches.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PKG, PREBUILDS, prebuildPath, ROOT, run, runOk, which } from './helpers.js';

interface PackInfo {
  filename: string;
  size: number;
  unpackedSize: number;
  files: { path: string; size: number }[];
}

const work = mkdtempSync(join(tmpdir(), 'kernel-taint-pack-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** This environment minus npm's own variables (the test may run under `npm run`), with PATH replaced. */
function cleanEnv(path: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_|^PREBUILDS_ONLY$|^LIBC$|^KERNEL_TAINT_PREBUILD$|^VITEST|^NODE_OPTIONS$/i.test(k)) continue;
    env[k] = v;
  }
  env.PATH = path;
  return env;
}

/** A PATH with node, npm, npx and sh (npm runs scripts with it) only: no compiler, make, python3 or cmake. */
function barePath(): string {
  const bin = join(work, 'bare-bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, target] of [
    ['node', process.execPath],
    ['npm', which('npm')],
    ['npx', which('npx')],
    ['sh', '/bin/sh'],
  ] as const) {
    if (!target) throw new Error(`${name} is not on PATH`);
    if (!existsSync(join(bin, name))) symlinkSync(target, join(bin, name));
  }
  return bin;
}

function newProject(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', private: true }, null, 2));
  return dir;
}

let pack: PackInfo;
let tarball: string;

beforeAll(() => {
  if (!existsSync(join(ROOT, 'dist/index.cjs'))) throw new Error('no dist/: run `npm run build` first');
  const missing = PREBUILDS.filter((p) => !existsSync(prebuildPath(p.arch, p.libc)));
  if (missing.length) throw new Error(`no ${missing.map((p) => p.id).join(', ')}: run \`npm run prebuilds\` first`);
  // --ignore-scripts: pack exactly what was built, without `prepare` rebuilding dist/ underneath other tests.
  const r = runOk('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', work], { cwd: ROOT });
  pack = (JSON.parse(r.stdout) as PackInfo[])[0];
  tarball = join(work, pack.filename);
  process.stdout.write(
    `npm pack: ${pack.filename}, ${pack.files.length} files, packed ${(pack.size / 1024).toFixed(0)} KiB, ` +
      `unpacked ${(pack.unpackedSize / 1024).toFixed(0)} KiB\n`,
  );
});

describe('npm pack', () => {
  it('holds the prebuilds, dist, bin, native sources and build files, and no build junk', () => {
    const paths = pack.files.map((f) => f.path);
    for (const p of PREBUILDS) expect(paths).toContain(`prebuilds/linux-${p.arch}/${PKG.name}.${p.libc}.node`);
    for (const f of [
      'package.json',
      'README.md',
      'LICENSE',
      'CHANGELOG.md',
      'binding.gyp',
      'CMakeLists.txt',
      'bin/kernel-taint.cjs',
      'dist/index.cjs',
      'dist/index.mjs',
      'dist/index.d.cts',
      'dist/index.d.mts',
      ...['health', 'metrics', 'journal', 'serve', 'panel'].flatMap((e) =>
        ['cjs', 'mjs', 'd.cts', 'd.mts'].map((x) => `dist/${e}.${x}`),
      ),
      // The CLI (loaded by bin/) and the parts the core requires on first use (lib/parts-lazy.ts).
      ...['cli', 'explain', 'kmsg-cause', 'modules', 'parse', 'watch'].map((e) => `dist/${e}.cjs`),
      'native/sources.txt',
      'native/unsupported.cc',
    ]) {
      expect(paths).toContain(f);
    }
    // Every source that binding.gyp compiles ships, so the fallback build can run.
    const sources = readFileSync(join(ROOT, 'native/sources.txt'), 'utf8').trim().split(/\s+/);
    for (const s of sources) expect(paths).toContain(s);
    const junk = paths.filter((p) =>
      /^(build|build-[^/]+|node_modules|\.cache|test|bench|scripts\/(?!install\.cjs$)|coverage|test-artifacts|\.ci|\.git)\/|\.(tgz|o|a|log)$|^prebuilds\/\.gitkeep$/.test(
        p,
      ),
    );
    expect(junk).toEqual([]);
  });

  it('stays small', () => {
    expect(pack.unpackedSize).toBeLessThan(3 * 1024 * 1024);
    expect(pack.size).toBeLessThan(1024 * 1024);
  });

  it('needs nothing at run time but node-gyp-build (node-addon-api is headers for the fallback compile)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
    expect(Object.keys(pkg.dependencies ?? {}).sort()).toEqual(['node-addon-api', 'node-gyp-build']);
    expect(pkg.optionalDependencies ?? {}).toEqual({});
    // Peer dependencies (integrations such as prom-client) are all optional: none is installed for you.
    for (const name of Object.keys(pkg.peerDependencies ?? {})) {
      expect(pkg.peerDependenciesMeta?.[name]?.optional, `peer ${name} must be optional`).toBe(true);
    }
    expect(pkg.scripts.install).toBe('node scripts/install.cjs');
  });

  it('the install step is node-gyp-build on Linux and nothing elsewhere (no compiler needed off Linux)', () => {
    const script = join(ROOT, 'scripts/install.cjs');
    const off = spawnSync(
      process.execPath,
      [
        '-e',
        `Object.defineProperty(process, 'platform', { value: 'win32' }); require(${JSON.stringify(script)}); setTimeout(() => console.log('still running'), 200);`,
      ],
      { encoding: 'utf8' },
    );
    expect(off.status).toBe(0);
    expect(off.stdout).toBe('');
    expect(readFileSync(script, 'utf8')).toContain("require('node-gyp-build/bin.js')");
  });
});

describe('install from the tarball with no compiler on PATH', () => {
  let project: string;
  let env: NodeJS.ProcessEnv;
  let installLog: string;

  beforeAll(() => {
    env = cleanEnv(barePath());
    // The bare PATH really has no toolchain.
    const probe = run('/bin/sh', ['-c', 'for t in g++ c++ cc gcc make python3 python cmake; do command -v $t; done'], {
      env,
    });
    expect(probe.stdout.trim()).toBe('');
    project = newProject('consumer');
    const r = runOk(
      'npm',
      ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts', '--loglevel', 'info'],
      { cwd: project, env },
    );
    installLog = r.stdout + r.stderr;
  });

  it('takes the prebuild: the install step compiles nothing', () => {
    const installed = join(project, 'node_modules', PKG.name);
    expect(existsSync(join(installed, 'package.json'))).toBe(true);
    // The install script ran (node-gyp-build) and was satisfied by node-gyp-build-test loading the prebuild.
    expect(installLog).toMatch(/node-gyp-build/);
    expect(installLog).not.toMatch(/gyp info|node-gyp rebuild|g\+\+|make: /);
    expect(existsSync(join(installed, 'build'))).toBe(false);
    const resolved = runOk('node', ['-p', `require('node-gyp-build').path(${JSON.stringify(installed)})`], {
      cwd: installed,
      env,
    });
    expect(resolved.stdout.trim()).toBe(join(installed, 'prebuilds/linux-x64', `${PKG.name}.glibc.node`));
  });

  it('npx kernel-taint reports this kernel (exit 0 clean, 1 tainted)', () => {
    const r = run('npx', ['--no-install', 'kernel-taint'], { cwd: project, env });
    expect(r.stderr).not.toMatch(/ERR_KERNEL_TAINT_UNSUPPORTED|Error/);
    expect([0, 1]).toContain(r.status);
    const value = Number(readFileSync('/proc/sys/kernel/tainted', 'utf8'));
    expect(r.stdout).toMatch(value === 0 ? /Not tainted/ : /Tainted/);
    expect(r.status).toBe(value === 0 ? 0 : 1);
  });

  it('npx kernel-taint decode 4097 --json', () => {
    const r = run('npx', ['--no-install', 'kernel-taint', 'decode', '4097', '--json'], { cwd: project, env });
    expect(r.status).toBe(1); // tainted
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      value: 4097,
      tainted: true,
      letters: 'PO',
      names: ['PROPRIETARY_MODULE', 'OOT_MODULE'],
    });
  });

  it('works from CommonJS and ESM with node-addon-api removed (no run-time use of it)', () => {
    rmSync(join(project, 'node_modules/node-addon-api'), { recursive: true, force: true });
    const expected = Number(readFileSync('/proc/sys/kernel/tainted', 'utf8'));
    const cjs = runOk(
      'node',
      ['-e', `const k = require('${PKG.name}'); console.log(k.isSupported(), k.readTaintValue())`],
      {
        cwd: project,
        env,
      },
    );
    expect(cjs.stdout.trim()).toBe(`true ${expected}`);
    const esm = runOk(
      'node',
      ['--input-type=module', '-e', `import { readTaint } from '${PKG.name}'; console.log(readTaint().value)`],
      { cwd: project, env },
    );
    expect(esm.stdout.trim()).toBe(String(expected));
  });
});

describe('install with --ignore-scripts (or npm blocking install scripts)', () => {
  it('still works: the prebuild is found at run time, not at install time', () => {
    const env = cleanEnv(barePath());
    const project = newProject('no-scripts');
    runOk('npm', ['install', tarball, '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline'], {
      cwd: project,
      env,
    });
    const r = run('npx', ['--no-install', 'kernel-taint', '--json'], { cwd: project, env });
    expect([0, 1]).toContain(r.status);
    expect(JSON.parse(r.stdout).value).toBe(Number(readFileSync('/proc/sys/kernel/tainted', 'utf8')));
  });
});

describe('install when no prebuild matches', () => {
  it.runIf(!!which('g++') && !!which('make') && !!which('python3'))(
    'compiles from binding.gyp (npm_config_build_from_source=true) and loads build/Release first',
    () => {
      const project = newProject('from-source');
      const env = { ...cleanEnv(process.env.PATH ?? ''), npm_config_build_from_source: 'true' };
      runOk('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--foreground-scripts'], {
        cwd: project,
        env,
        timeout: 600_000,
      });
      const installed = join(project, 'node_modules', PKG.name);
      expect(existsSync(join(installed, 'build/Release/kernel_taint.node'))).toBe(true);
      const r = runOk(
        'node',
        [
          '-e',
          `console.log(require('node-gyp-build').path(${JSON.stringify(installed)}), require('${PKG.name}').readTaintValue())`,
        ],
        { cwd: project, env },
      );
      expect(r.stdout).toContain(join(installed, 'build/Release/kernel_taint.node'));
    },
    600_000,
  );
});
