// Picks the registry backend for the `redis` option (in memory, the app's client, or a client of
// its own) and tunes an owned client to fail fast and reconnect before a lease runs out.
import { Logger } from '@nestjs/common';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { ThrottledWarning } from '../common/throttled-warning.js';
import { isRedisClient } from '../options/option-checks.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import { MemoryRegistryStore } from './memory-registry.store.js';
import { registryKeys } from './registry-keys.js';
import { RedisRegistryStore } from './redis-registry.store.js';
import type { RegistryStore } from './registry-store.interface.js';

/**
 * Builds the store the `redis` option asks for. A client the app passed in is the app's: the store
 * never closes it. A URL or `RedisOptions` opens a client the store owns and closes.
 */
export function createRegistryStore(options: ResolvedDiscoveryOptions): RegistryStore {
  const logger = new Logger('DiscoveryModule');
  if (options.redis === undefined) {
    logger.log('No redis option: using the in-memory registry, which only spans this process');
    return new MemoryRegistryStore(options.keyPrefix, options.pubSubEnabled);
  }
  const keys = registryKeys(options.keyPrefix, options.pubSubChannel);
  const { pubSubEnabled } = options;
  if (isRedisClient(options.redis)) {
    return new RedisRegistryStore({
      client: options.redis as Redis | Cluster,
      ownsClient: false,
      keys,
      pubSubEnabled,
    });
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
  return new RedisRegistryStore({ client, ownsClient: true, keys, pubSubEnabled });
}
