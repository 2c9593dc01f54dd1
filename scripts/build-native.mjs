// `npm run build:native`: builds build/Release/kernel_taint.node with cmake-js
// when cmake is installed (developer and prebuild builds), else with node-gyp
// from binding.gyp (the same sources), so `npm test` works on a machine that
// has only what `npm install` needs (g++, make, python3).
import { execFileSync, spawnSync } from 'node:child_process';

const hasCmake = spawnSync('cmake', ['--version'], { stdio: 'ignore' }).status === 0;
const [cmd, args] = hasCmake ? ['cmake-js', ['compile', '--out', 'build']] : ['node-gyp', ['rebuild']];
console.log(`building the addon with ${cmd}`);
execFileSync('npx', ['--no-install', cmd, ...args], { stdio: 'inherit' });
