// Injection tokens and the metadata key that the module's parts share (options, stores, telemetry,
// signer, `@DistributedJob()`), in a file of their own so that importing them pulls in no code.
/** Injection token of the validated options (`ResolvedDiscoveryOptions`). */
export const DISCOVERY_OPTIONS = Symbol('DISCOVERY_OPTIONS');
/** Injection token of the registry and job claim stores built together from the `redis` option. */
export const STORES = Symbol('STORES');
/** Injection token of the `RegistryStore` the module built from the `redis` option. */
export const REGISTRY_STORE = Symbol('REGISTRY_STORE');
/** Injection token of the `JobClaimStore` (on the same client as the registry store). */
export const JOB_CLAIM_STORE = Symbol('JOB_CLAIM_STORE');
/** Metadata key that `@DistributedJob()` puts on a method. */
export const DISTRIBUTED_JOB_METADATA = 'nestjs-redis-discovery:distributed-job';
/** Injection token of the `RecordSigner` built from `signingKey` (undefined without one). */
export const RECORD_SIGNER = Symbol('RECORD_SIGNER');
/** Injection token of the `Telemetry`: the `stats` counters and the histograms. */
export const TELEMETRY = Symbol('TELEMETRY');
