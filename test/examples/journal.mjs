import { watchTaint } from 'kernel-taint';
import { openTaintJournal } from 'kernel-taint/journal';

const file = process.env.JOURNAL ?? '/var/lib/myapp/taint.jsonl';
const journal = openTaintJournal(file, { source: watchTaint() });
journal.on('record', (r) => console.warn(`kernel tainted: [${r.letter}] ${r.name} via ${r.trigger.kind}`));
