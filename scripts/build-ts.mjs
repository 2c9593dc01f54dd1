// `npm run build:ts`: tsdown, unless dist/ is newer than everything it is
// built from (lib/, tsdown.config.ts, package.json, tsconfig.json), e.g. just
// built by `npm ci` (prepare). `--force` (or KT_REBUILD=1) always builds.
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStale } from './stale.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const force = process.argv.includes('--force') || process.env.KT_REBUILD === '1';
const inputs = ['lib', 'tsdown.config.ts', 'package.json', 'tsconfig.json'].map((f) => join(root, f));
// The last files tsdown writes: the type declarations of the CJS build.
const outputs = ['dist/index.cjs', 'dist/index.mjs', 'dist/index.d.cts', 'dist/index.d.mts', 'dist/cli.cjs'];
if (!force && !outputs.some((o) => isStale(join(root, o), inputs))) {
  console.log('dist/ is up to date');
} else {
  execFileSync('npx', ['--no-install', 'tsdown'], { cwd: root, stdio: 'inherit' });
}
