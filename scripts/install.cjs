#!/usr/bin/env node
// npm "install" script. On Linux: node-gyp-build (use a matching prebuild,
// else compile binding.gyp). Elsewhere: nothing, since the addon is never
// loaded off Linux (decode/format/parse are pure TypeScript), and a compile
// would fail on machines without a C++ toolchain (Windows without Build Tools).
'use strict';
if (process.platform !== 'linux') process.exit(0);
require('node-gyp-build/bin.js');
