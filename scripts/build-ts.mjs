// `npm run build:ts`: tsdown, unless dist/ is newer than everything it is
// built from (lib/, tsdown.config.ts, package.json, tsconfig.json, this
// script), e.g. just built by `npm ci` (prepare). `--force` (or KT_REBUILD=1)
// always builds.
//
// tsdown builds CommonJS only. Each public entry's ESM file is then written
// here as a thin wrapper over its .cjs (and its .d.mts as a copy of the
// .d.cts): one implementation for `import` and `require`, so there is one
// KernelTaintError class whichever way the package is loaded, and the parts
// the core requires on first use (lib/parts-lazy.ts) work for both.
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isStale } from './stale.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const force = process.argv.includes('--force') || process.env.KT_REBUILD === '1';
const inputs = ['lib', 'tsdown.config.ts', 'package.json', 'tsconfig.json', 'scripts/build-ts.mjs'].map((f) =>
  join(root, f),
);
// The public entries: package.json "exports" but ./package.json.
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const entries = Object.keys(pkg.exports)
  .filter((k) => k !== './package.json')
  .map((k) => (k === '.' ? 'index' : k.slice(2)));
// The last files written: the ESM wrappers and their types.
const outputs = [
  'dist/cli.cjs',
  ...entries.flatMap((e) => [`dist/${e}.cjs`, `dist/${e}.d.cts`, `dist/${e}.mjs`, `dist/${e}.d.mts`]),
];
if (!force && !outputs.some((o) => isStale(join(root, o), inputs))) {
  console.log('dist/ is up to date');
} else {
  execFileSync('npx', ['--no-install', 'tsdown'], { cwd: root, stdio: 'inherit' });
  writeEsmWrappers();
}

function writeEsmWrappers() {
  // The names each entry exports, as Node sees them (in a child: loading the
  // entries must not touch this process).
  const names = JSON.parse(
    execFileSync(
      process.execPath,
      [
        '-e',
        `const out = {}; for (const e of ${JSON.stringify(entries)}) out[e] = Object.keys(require('./' + e + '.cjs')); console.log(JSON.stringify(out));`,
      ],
      { cwd: dist, encoding: 'utf8' },
    ),
  );
  for (const e of entries) {
    const exported = names[e].filter((n) => n !== '__esModule');
    if (exported.length === 0) throw new Error(`dist/${e}.cjs exports nothing`);
    // kernel-taint/panel is browser-safe: a page's bundler resolves it, so its
    // wrapper imports the .cjs (bundlers and Node both give module.exports as
    // the default) instead of needing node:module.
    const load =
      e === 'panel'
        ? `import m from './${e}.cjs';\n`
        : `import { createRequire } from 'node:module';\nconst m = createRequire(import.meta.url)('./${e}.cjs');\n`;
    writeFileSync(
      join(dist, `${e}.mjs`),
      `// The ESM entry: dist/${e}.cjs re-exported (scripts/build-ts.mjs), one implementation for import and require.\n` +
        load +
        `export const { ${exported.join(', ')} } = m;\n`,
    );
    copyFileSync(join(dist, `${e}.d.cts`), join(dist, `${e}.d.mts`));
  }
  console.log(`ESM wrappers: ${entries.map((e) => `dist/${e}.mjs`).join(', ')}`);
}
