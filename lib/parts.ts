// The parts of the core that `kernel-taint` loads on first use instead of at
// import (lib/index.ts calls them through thin wrappers): the log parser, the
// watcher, explainTaint, the kmsg decoders and the module list. From lib/
// (vitest, test bundles) they are plain imports. The build swaps this file for
// lib/parts-lazy.ts (tsdown.config.ts), which requires each part's own file in
// dist/ the first time it is asked for.
import * as explain from './explain.js';
import * as kmsgCause from './kmsg-cause.js';
import * as modules from './modules.js';
import * as parse from './parse.js';
import * as watch from './watch.js';

export const parts = {
  explain: () => explain,
  kmsgCause: () => kmsgCause,
  modules: () => modules,
  parse: () => parse,
  watch: () => watch,
};

export type Parts = typeof parts;
