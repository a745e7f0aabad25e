import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startSteppedRedis, type SteppedRedis } from './stepped-redis.js';

describe('a redis-server with a stepped clock (test harness)', () => {
  let redis: SteppedRedis;
  let client: Redis;
  beforeAll(async () => {
    redis = await startSteppedRedis();
    client = new Redis(redis.url);
  });
  afterAll(async () => {
    client.disconnect();
    await redis.stop();
  });

  const redisMs = async () => {
    const [seconds, micros] = await client.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };

  it('reports TIME moved by each step, forward and back, while it runs', async () => {
    const before = (await redisMs()) - Date.now();
    redis.step(8000);
    const forward = (await redisMs()) - Date.now();
    redis.step(-13_000);
    const back = (await redisMs()) - Date.now();
    expect(Math.abs(before)).toBeLessThan(50);
    expect(forward - before).toBeGreaterThan(7950);
    expect(forward - before).toBeLessThan(8050);
    expect(back - before).toBeGreaterThan(-5050);
    expect(back - before).toBeLessThan(-4950);
    // Scripts read the same clock (what the library's scripts measure deadlines in).
    const scriptSeconds = Number(await client.eval("return redis.call('TIME')[1]", 0));
    expect(Math.abs(scriptSeconds - (Date.now() + redis.offset) / 1000)).toBeLessThan(1.1);
  });
});
