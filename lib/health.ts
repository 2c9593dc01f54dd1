/**
 * `kernel-taint/health`: health checks for HTTP frameworks and orchestrators, the taint policy
 * (`classifyTaint`) and the per-boot baseline.
 * @packageDocumentation
 */
export { type BootBaseline, bootBaseline } from './integrations/boot.js';
export {
  createHealthCheck,
  expressHealth,
  type FastifyReplyLike,
  fastifyHealth,
  HEALTH_CHECK_KEY,
  HEALTH_CONTENT_TYPE,
  type HealthCheckOptions,
  type HealthCheckResponse,
  type HealthOnError,
  healthCheck,
  healthHandler,
  healthStatusCode,
  type KoaContextLike,
  koaHealth,
  type LightshipLike,
  lightshipHealth,
  type TaintCheckResult,
  type TaintHealthCheck,
  TaintHealthCheckError,
  terminusHealth,
} from './integrations/health.js';
export {
  type ClassifyContext,
  classifyTaint,
  DEFAULT_CATEGORY_STATUS,
  loadTaintPolicy,
  type ModuleLetters,
  parseTaintPolicy,
  type TaintAllowRule,
  type TaintClassification,
  type TaintPolicy,
  type TaintReason,
  type TaintStatus,
} from './integrations/policy.js';
export type { SourceChange, SourceChangeListener, TaintSource } from './integrations/source.js';
export { SourceHealth } from './integrations/source.js';
