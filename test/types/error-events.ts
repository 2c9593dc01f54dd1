// Type-level test, checked by `npm run typecheck` (tsconfig includes test/):
// the README's `w.on('error', (err) => err.code)` must compile under --strict,
// and a listener that expects a property the error types do not have must not.
import type { TaintError } from '../../lib/errors.js';
import type { TaintJournal } from '../../lib/integrations/journal.js';
import type { TaintWatcher } from '../../lib/watch.js';

export function watcherErrors(w: TaintWatcher): void {
  w.on('error', (err) => {
    const code: string = err.code;
    void code;
  });
  // @ts-expect-error: the error events carry TaintError, which has no `statusCode`.
  w.on('error', (err) => err.statusCode);
}

export function journalErrors(j: TaintJournal): void {
  j.on('error', (err: TaintError) => err.code.startsWith('E'));
}
