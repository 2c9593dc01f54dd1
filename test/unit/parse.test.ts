// Every parser case of issue #11, each reproduced against the parser before it was fixed.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { decodeSupported, parseTaint, parseTaintLog, parseTaintStream } from '../../lib/parse.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
};

describe('newest report wins, by position', () => {
  it('a newer header beats an older verbose line', () => {
    const log = ['Tainted: [P]=PROPRIETARY_MODULE', 'noise', 'CPU: 0 PID: 1 Comm: a Not tainted 6.1.0 #1'].join('\n');
    expect(parseTaint(log)?.tainted).toBe(false);
  });

  it('a newer D W header beats an older [W] line', () => {
    const log = ['Tainted: [W]=WARN', 'x', 'y', 'z', 'w', 'CPU: 0 PID: 1 Comm: a Tainted: G      D  W  6.12.0 #1'].join(
      '\n',
    );
    expect(parseTaint(log)?.letters).toBe('DW');
  });

  it('a kernel-chktaint Raw line after a PWO header is the newest report', () => {
    const log = [
      'CPU: 0 PID: 1 Comm: a Tainted: P        W  O      6.1.0 #1',
      "Raw taint value as int/string: 512/'G        W          '",
    ].join('\n');
    expect(parseTaint(log)?.value).toBe(512);
  });

  it('a verbose line overrides the header of its own report', () => {
    const log = ['CPU: 0 PID: 1 Comm: a Tainted: G        W  O      6.12.0 #1', 'Tainted: [W]=WARN'].join('\n');
    expect(parseTaint(log)?.letters).toBe('W');
  });

  it('a verbose line far below a header is its own report', () => {
    const log = [
      'CPU: 0 PID: 1 Comm: a Tainted: P                   6.12.0 #1',
      ...Array.from({ length: 10 }, () => 'noise'),
      'Tainted: [W]=WARN, [',
    ].join('\n');
    expect(parseTaint(log)?.letters).toBe('W');
  });
});

describe('Tainted: with no letter set', () => {
  it('is tainted with the value unknown (Fedora 16 oops from abrt)', () => {
    const s = parseTaint('Pid: 912, comm: X Tainted: G            3.1.0-0.rc9.git0.0.fc16.x86_64 #1 Bochs Bochs');
    expect(s).toMatchObject({ tainted: true, unknownValue: true, value: 0, letters: '' });
    expect(`${s}`).toBe('Tainted: (flags not shown)');
    expect(s?.toJSON()).toMatchObject({ tainted: true, unknownValue: true });
  });

  it('NUL and high bytes in the field never make it Not tainted', () => {
    for (const junk of ['\u0000', '\u00ff', '\ufffd', '\u0001\u0002']) {
      const s = parseTaint(`CPU: 0 PID: 1 Comm: a Tainted: ${junk}P  W ${junk} 6.1.0 #1`);
      expect(s?.tainted).toBe(true);
      expect(s?.unknownValue).toBe(true);
      expect(s?.letters).toBe('PW');
      const only = parseTaint(`CPU: 0 PID: 1 Comm: a Tainted: ${junk}${junk} 6.1.0 #1`);
      expect(only).toMatchObject({ tainted: true, unknownValue: true });
    }
  });
});

describe('heuristics', () => {
  it('i386 VLI is a literal suffix, not flags', () => {
    expect(parseTaint('EIP:    0060:[<f9009e8f>]    Tainted: P      VLI')?.letters).toBe('P');
    expect(parseTaint('EIP:    0060:[<c01d2dc5>]    Not tainted VLI')?.tainted).toBe(false);
    const unk = parseTaint('EIP:    0060:[<f9009e8f>]    Tainted: P      VLI');
    expect(unk?.unknownLetters).toEqual([]);
  });

  it('a comm with spaces is kept whole', () => {
    const [r] = parseTaintLog('CPU: 3 PID: 4242 Comm: Web Content Tainted: G        W          6.8.0 #1');
    expect(r.comm).toBe('Web Content');
    expect(r.state.letters).toBe('W');
    const [k] = parseTaintLog(
      'CPU: 28 PID: 6388 Comm: kworker/28:2 Kdump: loaded Tainted: G        W        --------- -t - 4.18.0-173.el8.x86_64 #1',
    );
    expect(k.comm).toBe('kworker/28:2');
    const [b] = parseTaintLog('CPU: 1 PID: 0 Comm: swapper/1 5.8.0-rc4-default #504 Not tainted');
    expect(b).toMatchObject({ comm: 'swapper/1', release: '5.8.0-rc4-default' });
  });

  it('prose and quoted values are not headers', () => {
    expect(parseTaint('The kernel is Tainted: yes')).toBeNull();
    expect(parseTaint('audit: type=1400 audit(1.2:3): comm="Tainted: PO" name="x"')).toBeNull();
    expect(parseTaint("msg='Tainted: PO'")).toBeNull();
    // The same shapes with a real field still parse.
    expect(parseTaint('kernel: Tainted: P           O      ')?.letters).toBe('PO');
  });

  it('an unknown profile is a coded error from the option check, whatever the text', () => {
    for (const text of ['', 'Tainted: P', 'nothing']) {
      expect(codeOf(() => parseTaint(text, { profile: 'windows' as never }))).toBe('ERR_KERNEL_TAINT_INVALID_ARG');
      expect(codeOf(() => parseTaintLog(text, { profile: 'windows' as never }))).toBe('ERR_KERNEL_TAINT_INVALID_ARG');
    }
    expect(codeOf(() => parseTaintLog(Readable.from([]), { profile: 'rhel99' as never }))).toBe(
      'ERR_KERNEL_TAINT_INVALID_ARG',
    );
  });

  it('keeps the letter and the name of an unknown verbose entry', () => {
    const s = parseTaint('Tainted: [N]=TEST, [H]=KILLSWITCH');
    expect(s?.names).toEqual(['TEST']);
    expect(s?.unknownLetters).toEqual(['H']);
    expect(s?.unknownNames).toEqual({ H: 'KILLSWITCH' });
    expect(`${s}`).toBe('Tainted: [N]=TEST, [H]=KILLSWITCH');
    expect(JSON.parse(JSON.stringify(s))).toMatchObject({ unknownLetters: ['H'], unknownNames: { H: 'KILLSWITCH' } });
  });
});

describe('vendors', () => {
  it('detects RHEL 10 from .el10 and reads p, h and u', () => {
    const s = parseTaint(
      'CPU: 2 PID: 9 Comm: modprobe Tainted: G        W          ------p----- 6.12.0-55.9.1.el10_0.x86_64 #1',
    );
    expect(s?.profile).toBe('rhel10');
    expect(s?.names).toEqual(['WARN', 'PARTNER_SUPPORTED']);
    expect(parseTaint('Tainted: [p]=PARTNER_SUPPORTED, [u]=UNPRIVILEGED_BPF', { profile: 'rhel10' })?.value).toBe(
      (2 ** 26 + 2 ** 31) >>> 0,
    );
    // RHEL 9 keeps its own table.
    expect(parseTaint('Comm: x Tainted: G  ----------- h---u 5.14.0-427.el9.x86_64 #1')?.profile).toBe('rhel9');
  });

  it("reads SUSE's Supported: oops line and /sys/kernel/supported", () => {
    const log = [
      '[ 1678.755689] Supported: No, Proprietary and Unsupported modules are loaded',
      '[ 1678.755692] CPU: 2 PID: 8255 Comm: btrfs-transacti Tainted: P           OE  X  N 5.3.18-150300.59.76-default #1 SLE15-SP3',
    ].join('\n');
    const reports = parseTaintLog(log);
    expect(reports.map((r) => r.kind)).toEqual(['supported', 'header']);
    expect(reports[0].state.names).toEqual(['PROPRIETARY_MODULE', 'NO_SUPPORT']);
    // 5.3 predates TEST (N since 5.19/6.0): SUSE's N there is NO_SUPPORT.
    expect(parseTaint(log)?.names).toEqual([
      'PROPRIETARY_MODULE',
      'OOT_MODULE',
      'UNSIGNED_MODULE',
      'EXTERNAL_SUPPORT',
      'NO_SUPPORT',
    ]);
    expect(decodeSupported('Yes\n')?.tainted).toBe(false);
    expect(decodeSupported('Yes, External')?.names).toEqual(['EXTERNAL_SUPPORT']);
    expect(decodeSupported('No, Unsupported modules are loaded')?.names).toEqual(['NO_SUPPORT']);
    expect(decodeSupported('No, Unsupported modules are loaded', { release: '4.12.14-122.37-default' })?.value).toBe(
      2 ** 30,
    );
    expect(decodeSupported('banana')).toBeNull();
    expect(codeOf(() => decodeSupported(42 as never))).toBe('ERR_KERNEL_TAINT_INVALID_ARG');
  });
});

describe('streams', () => {
  const log = [
    '[ 1.0] CPU: 0 PID: 1 Comm: a Tainted: G           O       6.1.0 #1',
    '[ 2.0] Modules linked in: foo(POE) bar baz(C+) [last unloaded: qux(K)]',
    ...Array.from({ length: 200 }, (_, i) => `[ 3.${i}] usb 1-1: new device ${'x'.repeat(i % 90)}`),
    '[ 4.0] CPU: 0 PID: 1 Comm: b Tainted: P        W  OE      6.1.0 #1',
    'Tainted: [P]=PROPRIETARY_MODULE, [W]=WARN, [O]=OOT_MODULE, [E]=UNSIGNED_MODULE',
  ].join('\r\n');

  it('gives the same reports as the string parser, whatever the chunk size', async () => {
    const expected = parseTaintLog(log).map((r) => [r.line, r.kind, `${r.state}`]);
    expect(expected).toHaveLength(4);
    const bytes = Buffer.from(log);
    for (const size of [5, 64, 1000, bytes.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const got = [];
      for await (const r of parseTaintLog(Readable.from(chunks))) got.push([r.line, r.kind, `${r.state}`]);
      expect(got, `chunks of ${size}`).toEqual(expected);
    }
    const v = await parseTaintStream(new Blob([log]).stream());
    expect(v.state?.letters).toBe('PWOE');
    expect(v.reports).toBe(4);
  });

  it('skips the rest of a line longer than 8 KiB and keeps counting lines', async () => {
    const text = `${'a'.repeat(100_000)} Tainted: P 6.1.0 #1\nCPU: 0 PID: 1 Comm: a Tainted: G        W  6.1.0 #1\n`;
    const got = [];
    for await (const r of parseTaintLog(Readable.from([Buffer.from(text)]))) got.push(r);
    expect(got.map((r) => [r.line, r.state.letters])).toEqual([[2, 'W']]);
    expect(parseTaintLog(text).map((r) => [r.line, r.state.letters])).toEqual([[2, 'W']]);
  });

  it('rejects what is neither a string nor a stream with a coded error', () => {
    expect(codeOf(() => parseTaintLog(42 as never))).toBe('ERR_KERNEL_TAINT_INVALID_ARG');
    expect(parseTaint(42 as never)).toBeNull();
  });
});
