// `npm run build:native`: makes build/Release/kernel_taint.node, the file
// node-gyp-build and lib/binding.ts load, once per change of the sources.
// - Up to date (newer than every file under native/, binding.gyp and
//   CMakeLists.txt, e.g. just compiled by `npm ci`): nothing to do.
// - cmake installed (developer and prebuild builds): an incremental cmake-js
//   build in its own directory, build-cmake/, copied into build/Release/.
//   node-gyp's build/ (from `npm ci`) is left alone, so neither tool
//   reconfigures the other's tree.
// - else node-gyp from binding.gyp (the same sources), so `npm test` works on a
//   machine that has only what `npm install` needs (g++, make, python3).
// `--force` (or KT_REBUILD=1) builds even when up to date.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStale } from './stale.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build/Release/kernel_taint.node');
const force = process.argv.includes('--force') || process.env.KT_REBUILD === '1';

const inputs = ['native', 'binding.gyp', 'CMakeLists.txt'].map((f) => join(root, f));
if (!force && !isStale(out, inputs)) {
  console.log('the addon is up to date (build/Release/kernel_taint.node)');
  process.exit(0);
}

const npx = (cmd, args) => execFileSync('npx', ['--no-install', cmd, ...args], { cwd: root, stdio: 'inherit' });
if (spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0) {
  console.log('building the addon with cmake-js (build-cmake/)');
  npx('cmake-js', ['compile', '--out', 'build-cmake']);
  mkdirSync(dirname(out), { recursive: true });
  copyFileSync(join(root, 'build-cmake/Release/kernel_taint.node'), out);
} else {
  console.log('building the addon with node-gyp (build/)');
  npx('node-gyp', ['rebuild']);
}
