// Prints the plain closing line CI reads ("Tests: N passed, N failed,
// N skipped") after vitest's own summary. With KT_SUMMARY_FILE set, also
// appends the counts there so .ci/run can total several runs.
import { appendFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, errors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = errors.length;
    let skipped = 0;
    const optOuts: string[] = [];
    for (const m of testModules) {
      if (m.state() === 'failed' && [...m.children.allTests()].length === 0) failed++;
      for (const t of m.children.allTests()) {
        const s = t.result().state;
        if (s === 'passed') passed++;
        else if (s === 'failed') failed++;
        else {
          skipped++;
          // An explicit opt-out (e.g. KT_SKIP_KERNEL=1) is named in the summary, not hidden in the count.
          if (t.name.startsWith('opt-out:')) optOuts.push(t.name);
        }
      }
    }
    for (const o of optOuts) process.stdout.write(`\n${o}`);
    const line = `${passed} passed, ${failed} failed, ${skipped} skipped`;
    process.stdout.write(`\nTests: ${line}\n`);
    if (process.env.KT_SUMMARY_FILE) appendFileSync(process.env.KT_SUMMARY_FILE, `${passed} ${failed} ${skipped}\n`);
  }
}
