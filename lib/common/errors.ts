// Every error class the library throws, all under `DiscoveryError`, exported so callers can tell
// them apart (`instanceof`) or catch the whole family at once.
/** Base class of every error this library throws, so callers can catch them as one family. */
export class DiscoveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An option failed validation at startup; `option` names it. */
export class InvalidOptionError extends DiscoveryError {
  constructor(
    readonly option: string,
    message: string,
  ) {
    super(message);
  }
}

/** A value passed to a public method (service name, id, address...) is not acceptable. */
export class InvalidArgumentError extends DiscoveryError {}

/** Another live process already holds this node id. */
export class DuplicateNodeIdError extends DiscoveryError {
  constructor(readonly nodeId: string) {
    super(
      `nodeId "${nodeId}" is already registered by another live process; ` +
        'give each replica its own nodeId (or let the module generate one)',
    );
  }
}

/** Two `@DistributedJob()` methods resolved to the same job name. */
export class DuplicateJobNameError extends DiscoveryError {}

/** This node's lease ran out (a stall, or Redis unreachable past `heartbeatTTL`): its runs must stop. */
export class LeaseLostError extends DiscoveryError {}

/** A run was cancelled: a newer tick started (`overlap: 'cancelOther'`) or its run marker was lost. */
export class RunCancelledError extends DiscoveryError {}

/** Redis did not answer within `startupTimeout`: the app cannot start. */
export class RegistryUnavailableError extends DiscoveryError {
  constructor(
    /** Where the registry was looked for (`host:port`, sentinels or cluster nodes). */
    readonly address: string,
    /** How long the start waited, in ms. */
    readonly waitedMs: number,
    /** The last error seen while trying. */
    readonly lastError: string,
  ) {
    super(
      `Redis at ${address} did not answer within ${waitedMs} ms (option startupTimeout); last error: ${lastError}`,
    );
  }
}

/**
 * What answered at the `redis` address does not speak the Redis protocol (a wrong port: an HTTP
 * server, Postgres...). The start fails at once rather than waiting `startupTimeout` for it.
 */
export class NotRedisError extends RegistryUnavailableError {
  constructor(address: string, waitedMs: number, lastError: string) {
    super(address, waitedMs, lastError);
    this.message =
      `${address} is not a Redis server: it answered with bytes that are not the Redis protocol ` +
      `(${lastError}). Check the host and port of the redis option`;
  }
}

/** ioredis's parser errors (5: "Protocol error, got ...", 6: "Unknown RESP type ..."). */
export function isProtocolError(message: string | undefined): boolean {
  return message !== undefined && /Protocol error|Unknown RESP type/i.test(message);
}
