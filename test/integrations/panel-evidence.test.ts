// The panel shows each flag's evidence: since, cause, log line, actor, taken
// from the source's changes (a watcher's TaintChange.evidence).
import { describe, expect, it } from 'vitest';
import { createTaintPanelFeed } from '../../lib/integrations/feed.js';
import type { TaintEvidence } from '../../lib/types.js';
import { FakeSource, mainline } from './helpers.js';

const W = 1 << 9;

describe('panel feed evidence', () => {
  it('carries per-flag evidence as text; null for flags no change explained', () => {
    const source = new FakeSource(0);
    const feed = createTaintPanelFeed({ source, readModules: () => [] });
    const line = 'WARNING: arch/x86/kernel/cpu/bugs.c:3736 at __warn_thunk+0x10/0x20, CPU#1: (udev-worker)/728';
    const ev: TaintEvidence = {
      flag: mainline(W).flags[0],
      since: new Date(Date.UTC(2026, 11, 2, 6, 0, 0)),
      sinceBoot: 9.041456,
      cause: { kind: 'warning', site: 'arch/x86/kernel/cpu/bugs.c:3736', line },
      actor: { kind: 'incidental', pid: null, tid: 728, comm: '(udev-worker)', via: 'kmsg' },
      source: 'kmsg',
    };
    source.current = mainline(W);
    source.emit('change', {
      seq: 1,
      time: new Date(),
      bootId: null,
      previous: mainline(0),
      current: mainline(W),
      added: mainline(W).flags,
      trigger: 'kmsg',
      evidence: [ev],
    });
    const snap = feed.snapshot();
    expect(snap.flags[0].evidence).toEqual({
      since: '2026-12-02T06:00:00.000Z',
      sinceBoot: 9.041456,
      sinceText: expect.stringMatching(/^since 2026-12-0[12] \d\d:\d\d:00 \(9\.0 s after boot\)$/),
      cause: 'WARN at arch/x86/kernel/cpu/bugs.c:3736',
      line,
      actor: '(udev-worker), tid 728 (the task that happened to be running; from the kernel log)',
      source: 'kmsg',
    });
    // A change without evidence leaves the flag's evidence null.
    const other = new FakeSource(W);
    const feed2 = createTaintPanelFeed({ source: other, readModules: () => [] });
    expect(feed2.snapshot().flags[0].evidence).toBeNull();
    feed.close();
    feed2.close();
  });
});
