// The Redis the nodes share: REDIS_URL if set, else a throw-away redis-server of our own on a free
// port (scripts/redis-server.mjs: no persistence, ready once it answers), stopped at the end.
import { RedisServerMissingError, startRedisServer } from '../redis-server.mjs';
import { state } from './state.mjs';

/** REDIS_URL, or a redis-server of our own on a free port (stopped at the end). */
export async function startRedis() {
  if (process.env.REDIS_URL) {
    state.redisLabel = `REDIS_URL ${process.env.REDIS_URL}`;
    return { url: process.env.REDIS_URL, stop: async () => {} };
  }
  let server;
  try {
    server = await startRedisServer({ stopTimeout: 3000 });
  } catch (error) {
    if (error instanceof RedisServerMissingError)
      throw new Error(`${error.message}, or set REDIS_URL`, { cause: error });
    throw error;
  }
  state.redisLabel = `redis-server --port ${server.port} --save '' --appendonly no (pid ${server.pid()})`;
  return server;
}
