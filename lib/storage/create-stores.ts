// Picks the backends for the `redis` option (in memory, the app's client, or a client of its own),
// the registry and the job claims on one client, and tunes an owned client to fail fast.
import { Logger } from '@nestjs/common';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { ThrottledWarning } from '../common/throttled-warning.js';
import { isRedisClient } from '../options/option-checks.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import type { JobClaimStore } from './job-claim-store.interface.js';
import { MemoryJobClaimStore } from './memory/memory-job-claim.store.js';
import { MemoryRegistryStore } from './memory/memory-registry.store.js';
import { RedisJobClaimStore } from './redis/redis-job-claim.store.js';
import { RedisRegistryStore } from './redis/redis-registry.store.js';
import { registryKeys } from './registry-keys.js';
import type { RegistryStore } from './registry-store.interface.js';

export interface Stores {
  registry: RegistryStore;
  jobClaims: JobClaimStore;
}

/**
 * Builds the stores the `redis` option asks for. A client the app passed in is the app's: the
 * registry store never closes it. A URL or `RedisOptions` opens a client the registry store owns
 * and closes (the job claims share it).
 */
export function createStores(options: ResolvedDiscoveryOptions): Stores {
  const logger = new Logger('DiscoveryModule');
  if (options.redis === undefined) {
    // Said at registration (ClusterLog), and warned about when jobs are registered.
    return {
      registry: new MemoryRegistryStore(options.keyPrefix, options.pubSubEnabled),
      jobClaims: new MemoryJobClaimStore(options.keyPrefix),
    };
  }
  const keys = registryKeys(options.keyPrefix, options.pubSubChannel);
  const { pubSubEnabled } = options;
  if (isRedisClient(options.redis)) {
    const client = options.redis as Redis | Cluster;
    return {
      registry: new RedisRegistryStore({ client, ownsClient: false, keys, pubSubEnabled }),
      jobClaims: new RedisJobClaimStore(client),
    };
  }
  const redisOptions: RedisOptions = {
    // Fail a command after a couple of reconnect attempts instead of queueing it for long:
    // heartbeats retry on their own schedule and health reports the outage.
    maxRetriesPerRequest: 2,
    // Reconnect quickly (ioredis 6 backs off to 5 s): a node must be back before its lease runs out.
    retryStrategy: (times) =>
      Math.min(50 * 2 ** (times - 1), 1000) + Math.floor(Math.random() * 100),
    connectionName: `discovery:${options.nodeId}`,
    // ioredis keeps a timer this long after every failed connection (e.g. a wrong password).
    disconnectTimeout: 200,
  };
  const client =
    typeof options.redis === 'string'
      ? new Redis(options.redis, redisOptions)
      : new Redis({ ...redisOptions, ...(options.redis as RedisOptions) });
  const connectionErrors = new ThrottledWarning(logger);
  client.on('error', (error: Error) =>
    connectionErrors.warn(`Redis connection error: ${error.message}`),
  );
  return {
    registry: new RedisRegistryStore({ client, ownsClient: true, keys, pubSubEnabled }),
    jobClaims: new RedisJobClaimStore(client),
  };
}
