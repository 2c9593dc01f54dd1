// explainTaint() in a child that dropped to an unprivileged uid: the real
// /dev/kmsg refuses it where dmesg_restrict=1, and the explanation says so in
// plain words instead of throwing.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupArtifacts, script } from '../helpers/bundle.js';
import { startNode } from '../helpers/child.js';
import { isRoot, SKIP_ROOT } from '../helpers/features.js';
import { writeValue } from '../helpers/fs.js';
import { bits } from '../helpers/modules.js';
import { publicTempDir } from '../helpers/tmp.js';

const files: string[] = [];
afterAll(() => cleanupArtifacts(files));

describe('explainTaint without privilege', () => {
  it.skipIf(!isRoot)(
    `the unreadable kernel log is a limit, not an error (${SKIP_ROOT}switch to uid 65534)`,
    async () => {
      const dir = publicTempDir('kt-explain-unpriv-');
      const value = join(dir, 'tainted');
      writeValue(value, bits('W'));
      const f = await script(
        'explain-unprivileged',
        `try {
         const e = kt.explainTaint({ path: ${JSON.stringify(value)}, kmsgPath: '/dev/kmsg', profile: 'mainline' });
         console.log(JSON.stringify({ limits: e.limits, causes: e.bits.map((b) => b.cause) }));
       } catch (e) { console.log('threw', e.code); }`,
      );
      files.push(f);
      const c = startNode(f, { uid: 65534, gid: 65534 });
      const out = await c.line(/^\{|^threw/);
      expect(await c.exit(10_000)).toMatchObject({ code: 0, signal: null });
      const r = JSON.parse(out) as { limits: string[]; causes: unknown[] };
      const restricted = readFileSync('/proc/sys/kernel/dmesg_restrict', 'utf8').trim() === '1';
      if (restricted) {
        expect(r.limits[0]).toBe('kernel log not readable: dmesg_restrict=1 and no CAP_SYSLOG');
        expect(r.causes).toEqual([null]);
      } else {
        // The host lets anyone read the log: nothing to refuse.
        console.log('dmesg_restrict=0 here: the child could read /dev/kmsg; only the no-throw part is checked');
        expect(r.limits.some((l) => l.startsWith('kernel log not'))).toBe(false);
      }
    },
  );
});
