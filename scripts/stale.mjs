// Whether a build output is older than its inputs (files and directories,
// so a deleted or renamed source counts as a change).
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

export function newestMtime(paths) {
  let newest = 0;
  const visit = (p) => {
    const s = statSync(p);
    newest = Math.max(newest, s.mtimeMs);
    if (s.isDirectory()) for (const e of readdirSync(p)) visit(join(p, e));
  };
  for (const p of paths) if (existsSync(p)) visit(p);
  return newest;
}

/** True when `output` is missing or older than any of `inputs`. */
export function isStale(output, inputs) {
  return !existsSync(output) || statSync(output).mtimeMs < newestMtime(inputs);
}
