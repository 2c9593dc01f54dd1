// Keeps the code blocks of README.md and CONTRIBUTING.md identical to files
// that the tests run or check, so the documentation cannot drift from them.
// Every fenced block except shell ones (sh, bash, shell, console) must follow
// a marker line naming its file:
//   <!-- example: test/examples/quick-start.mjs -->  the block IS the file (byte for byte)
//   <!-- excerpt: deploy/prometheus/prometheus.yml -->  the block's lines appear, in one run, in the file
//   node scripts/readme-blocks.mjs          rewrite the `example:` blocks from their files
//   node scripts/readme-blocks.mjs --check  exit 1 and say what differs
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DOCS = ['README.md', 'CONTRIBUTING.md'];
const SHELL = new Set(['sh', 'bash', 'shell', 'console']);
const MARKER = /^<!-- (example|excerpt): (\S+) -->$/;

/**
 * The fenced blocks of a Markdown text: `{ lang, body, start, end, marker }`
 * with `start`/`end` the line indexes of the fences and `marker` the
 * `{ kind, file }` of the line just before the opening fence, if any.
 */
export function codeBlocks(text) {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (!open) continue;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    if (end >= lines.length) throw new Error(`unclosed code block at line ${i + 1}`);
    const m = i > 0 ? MARKER.exec(lines[i - 1]) : null;
    blocks.push({
      lang: open[1],
      body: lines.slice(i + 1, end).join('\n'),
      start: i,
      end,
      marker: m ? { kind: m[1], file: m[2] } : null,
    });
    i = end;
  }
  return blocks;
}

/** Problems of one document (an empty list when every block matches its file). */
export function checkDoc(name, text = readFileSync(join(root, name), 'utf8')) {
  const problems = [];
  for (const b of codeBlocks(text)) {
    const where = `${name}:${b.start + 1}`;
    if (!b.marker) {
      if (!SHELL.has(b.lang))
        problems.push(`${where}: a \`${b.lang || 'plain'}\` block without an example/excerpt marker`);
      continue;
    }
    const file = join(root, b.marker.file);
    if (!existsSync(file)) {
      problems.push(`${where}: ${b.marker.file} does not exist`);
      continue;
    }
    const content = readFileSync(file, 'utf8');
    if (b.marker.kind === 'example' && content !== `${b.body}\n`) {
      problems.push(`${where}: differs from ${b.marker.file} (node scripts/readme-blocks.mjs rewrites it)`);
    }
    if (b.marker.kind === 'excerpt' && !`\n${content}`.includes(`\n${b.body}\n`)) {
      problems.push(`${where}: is not an excerpt of ${b.marker.file} (whole lines, in one run)`);
    }
  }
  return problems;
}

/** The document with every `example:` block replaced by its file. */
export function rewriteDoc(text) {
  const lines = text.split('\n');
  for (const b of codeBlocks(text).reverse()) {
    if (b.marker?.kind !== 'example') continue;
    const content = readFileSync(join(root, b.marker.file), 'utf8').replace(/\n$/, '');
    lines.splice(b.start + 1, b.end - b.start - 1, ...content.split('\n'));
  }
  return lines.join('\n');
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const docs = DOCS.filter((d) => existsSync(join(root, d)));
  if (process.argv.includes('--check')) {
    const problems = docs.flatMap((d) => checkDoc(d));
    for (const p of problems) console.error(p);
    if (problems.length > 0) process.exit(1);
    console.log(`${docs.join(', ')}: every code block matches its file`);
  } else {
    for (const d of docs) {
      const path = join(root, d);
      writeFileSync(path, rewriteDoc(readFileSync(path, 'utf8')));
    }
  }
}
