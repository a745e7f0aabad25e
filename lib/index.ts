// The package's public API: the modules, their services, the decorator, the errors and the types,
// re-exported from where they live. Everything exported here is public (semver applies); anything
// else is internal, and the tests and benchmarks that need it import it by path.
export { DiscoveryModule } from './discovery.module.js';
export type {
  DiscoveryAsyncOptions,
  DiscoveryOptionsFactory,
  DiscoveryRootOptions,
} from './discovery.module-definition.js';
export { DISCOVERY_OPTIONS } from './discovery.constants.js';
export type {
  BalanceMode,
  DiscoveryModuleOptions,
  JobsOptions,
  ResolvedDiscoveryOptions,
  RetryOptions,
  ServiceDescriptor,
} from './options/discovery-options.interface.js';
export {
  DiscoveryError,
  DuplicateJobNameError,
  DuplicateNodeIdError,
  InvalidArgumentError,
  InvalidOptionError,
  LeaseLostError,
  NotRedisError,
  RegistryUnavailableError,
  RunCancelledError,
} from './common/errors.js';
export { ServiceDiscovery } from './discovery/service-discovery.service.js';
export type { LeaseStatus, LookupOptions } from './discovery/service-discovery.service.js';
export type {
  DeregistrationReason,
  DiscoveryEvent,
  DiscoveryEventHandler,
  DiscoveryEventType,
  NodeInfo,
} from './discovery/node-info.interface.js';
export { NodePool } from './node-pool/node-pool.service.js';
export type { PoolState } from './node-pool/node-pool.service.js';
export { DistributedJob } from './jobs/distributed-job.decorator.js';
export { DistributedJobs } from './jobs/distributed-jobs.service.js';
export { getJobContext } from './jobs/job-context.js';
export type {
  CatchupMode,
  DistributedJobOptions,
  JobContext,
  JobResult,
  JobRunRecord,
  JobSkips,
  JobStatus,
  OverlapPolicy,
} from './jobs/distributed-job.interface.js';
export { DiscoveryHealthIndicator } from './health/discovery-health.indicator.js';
export { DiscoveryDashboardModule } from './dashboard/discovery-dashboard.module.js';
export type { DiscoveryDashboardOptions } from './dashboard/dashboard-options.interface.js';
export type { DiscoveryStats } from './common/telemetry/discovery-stats.interface.js';
export type { MeterProviderLike } from './common/telemetry/meter.interface.js';
