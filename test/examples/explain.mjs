import { explainTaint } from 'kernel-taint';

const { state, bits, limits } = explainTaint();
console.log(`${state}`);
for (const b of bits) {
  const what = b.cause?.site ?? b.cause?.module?.name;
  console.log(b.flag.letter, b.since?.toISOString(), b.cause?.kind, what, b.actor?.comm);
}
// W 2026-12-02T05:31:14.046Z warning arch/x86/kernel/cpu/bugs.c:3736 (udev-worker)
for (const l of limits) console.log('not known:', l);
