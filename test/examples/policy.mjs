import { readModuleTaints, readTaint } from 'kernel-taint';
import { classifyTaint, loadTaintPolicy } from 'kernel-taint/health';

const policy = loadTaintPolicy('taint-policy.json'); // throws ERR_KERNEL_TAINT_INVALID_POLICY naming the field
const { status, reasons } = classifyTaint(readTaint(), policy, { modules: readModuleTaints() });
console.log(status); // 'pass' | 'warn' | 'fail'
for (const r of reasons) console.log(r.letter, r.status, r.message);
