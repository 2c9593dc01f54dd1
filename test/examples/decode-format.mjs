import { decodeTaint, formatTaint } from 'kernel-taint';

const s = decodeTaint(4097); // a number, bigint, or a string in decimal or 0x hex
console.log(s.letters, s.names.join(' ')); // => PO PROPRIETARY_MODULE OOT_MODULE
console.log(`[${formatTaint(4097, { kernel: '6.1.0' })}]`); // => [Tainted: P           O      ]
console.log(formatTaint(4097, { kernel: '6.12.0', verbose: true })); // => Tainted: [P]=PROPRIETARY_MODULE, [O]=OOT_MODULE
console.log(formatTaint(0)); // => Not tainted
