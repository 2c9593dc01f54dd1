import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');

/**
 * Reads a reference table: the team's shared copy beside the checkout when it
 * exists (CI has it), else the copy under test/fixtures (a plain clone).
 */
export function referenceFile(name: string): string {
  const shared = join(ROOT, '..', 'shared', 'reference', name);
  return readFileSync(existsSync(shared) ? shared : join(here, '..', 'fixtures', name), 'utf8');
}

/** Rows of a TSV with a header line; `#` comment lines are skipped. Escaped \t in cells becomes a tab. */
export function tsvRows(text: string): Record<string, string>[] {
  const lines = text.split('\n').filter((l) => l.length > 0 && !l.startsWith('#'));
  const [head, ...rest] = lines;
  const cols = head.split('\t');
  return rest.map((l) => {
    const cells = l.split('\t');
    // The last column may itself contain tabs.
    const row: Record<string, string> = {};
    cols.forEach((c, i) => {
      row[c] = (i === cols.length - 1 ? cells.slice(i).join('\t') : (cells[i] ?? '')).replace(/\\t/g, '\t');
    });
    return row;
  });
}
