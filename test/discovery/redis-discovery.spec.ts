import { afterAll, beforeAll, describe } from '@jest/globals';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';
import { digestContract } from './digest.contract.js';
import { discoveryContract } from './discovery.contract.js';

describe('Redis registry', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis.stop();
  });
  discoveryContract(() => ({ redis: redis.url }));
  digestContract(() => ({ redis: redis.url }));
});
