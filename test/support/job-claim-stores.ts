// The two job-claim stores a contract suite runs against: the Redis scripts on a throw-away Redis
// (time from Redis TIME) and the in-memory store (its own clock).
import { afterAll, beforeAll } from '@jest/globals';
import { Redis } from 'ioredis';
import type { JobClaimStore } from '../../lib/storage/job-claim-store.interface.js';
import { memoryNow } from '../../lib/storage/memory/memory-clock.js';
import { MemoryJobClaimStore } from '../../lib/storage/memory/memory-job-claim.store.js';
import { RedisJobClaimStore } from '../../lib/storage/redis/redis-job-claim.store.js';
import { startRedis, type RedisHandle } from './redis-harness.js';

export interface ClaimStoreUnderTest {
  store: JobClaimStore;
  /** The store's own time, ms. */
  now(): Promise<number>;
}

/**
 * Inside a `describe`: runs `contract` once per store ('Redis scripts', 'in-memory registry').
 * Returns the Redis client, for Redis-only tests beside the contract.
 */
export function againstBothClaimStores(
  memoryName: string,
  contract: (name: string, setup: () => ClaimStoreUnderTest) => void,
): () => Redis {
  let redis: RedisHandle;
  let client: Redis;
  beforeAll(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });
  contract('Redis scripts', () => ({
    store: new RedisJobClaimStore(client),
    async now() {
      const [seconds, micros] = await client.time();
      return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    },
  }));
  contract('in-memory registry', () => ({
    store: new MemoryJobClaimStore(memoryName),
    now: async () => memoryNow(),
  }));
  return () => client;
}
