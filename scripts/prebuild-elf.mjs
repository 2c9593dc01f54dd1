// A small reader for the ELF facts a prebuild must get right: architecture,
// the libraries it needs (glibc's libc.so.6 or musl's libc.so), the symbol
// versions it asks of glibc, what it exports and imports, and its hardening
// flags. No readelf needed, so `npm run prebuild` can check its own output
// on any machine. 64-bit little-endian only (x86-64 and AArch64).
import { readFileSync } from 'node:fs';

const MACHINES = { 62: 'x64', 183: 'arm64' };
const SHT_DYNAMIC = 6;
const SHT_DYNSYM = 11;
const SHT_GNU_VERNEED = 0x6ffffffe;
const DT_NEEDED = 1n;
const DT_FLAGS = 30n;
const DT_FLAGS_1 = 0x6ffffffbn;
const PT_GNU_STACK = 0x6474e551;
const PT_GNU_RELRO = 0x6474e552;

function cstr(buf, off) {
  const end = buf.indexOf(0, off);
  return buf.toString('utf8', off, end < 0 ? buf.length : end);
}

/**
 * @param {string} file
 * @returns {{ arch: string, needed: string[], libc: 'glibc' | 'musl' | 'unknown', bindNow: boolean,
 *   nodelete: boolean, staticTls: boolean, relro: boolean, execStack: boolean, exports: string[], imports: string[], glibcVersions: string[],
 *   maxGlibc: string | null, size: number }}
 */
export function readElf(file) {
  const b = readFileSync(file);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46) throw new Error(`${file}: not an ELF file`);
  if (b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF file`);
  const machine = b.readUInt16LE(0x12);
  const arch = MACHINES[machine] ?? `machine-${machine}`;

  const phoff = Number(b.readBigUInt64LE(0x20));
  const phentsize = b.readUInt16LE(0x36);
  const phnum = b.readUInt16LE(0x38);
  let execStack = true; // no PT_GNU_STACK means an executable stack
  let relro = false;
  for (let i = 0; i < phnum; i++) {
    const p = phoff + i * phentsize;
    const type = b.readUInt32LE(p);
    if (type === PT_GNU_STACK) execStack = (b.readUInt32LE(p + 4) & 1) !== 0;
    if (type === PT_GNU_RELRO) relro = true;
  }

  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const s = shoff + i * shentsize;
    sections.push({
      type: b.readUInt32LE(s + 4),
      offset: Number(b.readBigUInt64LE(s + 24)),
      size: Number(b.readBigUInt64LE(s + 32)),
      link: b.readUInt32LE(s + 40),
      info: b.readUInt32LE(s + 44),
    });
  }

  const needed = [];
  let bindNow = false;
  let nodelete = false;
  let staticTls = false;
  const exports = [];
  const imports = [];
  const glibcVersions = new Set();
  for (const sec of sections) {
    const strtab = sections[sec.link];
    if (sec.type === SHT_DYNAMIC) {
      for (let o = sec.offset; o + 16 <= sec.offset + sec.size; o += 16) {
        const tag = b.readBigInt64LE(o);
        const val = b.readBigUInt64LE(o + 8);
        if (tag === 0n) break;
        if (tag === DT_NEEDED) needed.push(cstr(b, strtab.offset + Number(val)));
        if (tag === DT_FLAGS && (val & 8n) !== 0n) bindNow = true; // DF_BIND_NOW
        if (tag === DT_FLAGS && (val & 0x10n) !== 0n) staticTls = true; // DF_STATIC_TLS
        if (tag === DT_FLAGS_1 && (val & 1n) !== 0n) bindNow = true; // DF_1_NOW
        if (tag === DT_FLAGS_1 && (val & 8n) !== 0n) nodelete = true; // DF_1_NODELETE
      }
    } else if (sec.type === SHT_DYNSYM) {
      for (let o = sec.offset + 24; o + 24 <= sec.offset + sec.size; o += 24) {
        const name = cstr(b, strtab.offset + b.readUInt32LE(o));
        const bind = b[o + 4] >> 4;
        const visibility = b[o + 5] & 3;
        const shndx = b.readUInt16LE(o + 6);
        if (!name) continue;
        if (shndx === 0) imports.push(name);
        else if ((bind === 1 || bind === 2) && (visibility === 0 || visibility === 3)) exports.push(name);
      }
    } else if (sec.type === SHT_GNU_VERNEED) {
      let o = sec.offset;
      for (let i = 0; i < sec.info; i++) {
        const cnt = b.readUInt16LE(o + 2);
        let a = o + b.readUInt32LE(o + 8);
        for (let j = 0; j < cnt; j++) {
          const v = cstr(b, strtab.offset + b.readUInt32LE(a + 8));
          if (v.startsWith('GLIBC_')) glibcVersions.add(v.slice(6));
          const next = b.readUInt32LE(a + 12);
          if (next === 0) break;
          a += next;
        }
        const next = b.readUInt32LE(o + 12);
        if (next === 0) break;
        o += next;
      }
    }
  }

  const versions = [...glibcVersions].sort(compareVersions);
  const libc = needed.includes('libc.so.6') ? 'glibc' : needed.includes('libc.so') ? 'musl' : 'unknown';
  return {
    arch,
    needed,
    libc,
    bindNow,
    nodelete,
    staticTls,
    relro,
    execStack,
    exports: exports.sort(),
    imports: imports.sort(),
    glibcVersions: versions,
    maxGlibc: versions.at(-1) ?? null,
    size: b.length,
  };
}

/** Compares dotted version strings numerically ('2.9' < '2.17'). */
export function compareVersions(a, b) {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
