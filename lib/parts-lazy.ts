// lib/parts.ts as built: each part is its own CommonJS file beside the core
// chunk in dist/ (an entry of tsdown.config.ts), required on first use. One
// implementation serves `require` and `import` (dist/*.mjs wrap the CJS build),
// so a part's errors are the core's KernelTaintError either way.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Parts } from './parts.js';

let load: NodeJS.Require | undefined;

function part<K extends keyof Parts>(file: string): Parts[K] {
  let m: ReturnType<Parts[K]> | undefined;
  return (() => {
    load ??= createRequire(join(import.meta.dirname, 'index.cjs'));
    m ??= load(file) as ReturnType<Parts[K]>;
    return m;
  }) as Parts[K];
}

export const parts: Parts = {
  explain: part<'explain'>('./explain.cjs'),
  kmsgCause: part<'kmsgCause'>('./kmsg-cause.cjs'),
  modules: part<'modules'>('./modules.cjs'),
  parse: part<'parse'>('./parse.cjs'),
  watch: part<'watch'>('./watch.cjs'),
};
