// Optional peer dependencies (prom-client, @opentelemetry/api) are loaded
// only when used, from the package that depends on kernel-taint.
import { createRequire } from 'node:module';
import { KernelTaintError } from '../errors.js';

/** Loads an optional peer dependency or throws `ERR_KERNEL_TAINT_MISSING_PEER` saying how to install it. */
export function loadPeer<T>(name: string): T {
  try {
    return createRequire(import.meta.url)(name) as T;
  } catch (e) {
    throw new KernelTaintError(
      'ERR_KERNEL_TAINT_MISSING_PEER',
      `${name} is not installed: it is an optional peer dependency of kernel-taint (npm install ${name})`,
      { cause: e },
    );
  }
}
