import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { Redis } from 'ioredis';
import { freePort, startRedis, waitFor, type RedisHandle } from './redis-harness.js';

// Fail fast: no reconnects, no retries, so a dead server surfaces as a rejected command.
function client(handle: RedisHandle): Redis {
  const redis = new Redis({
    host: handle.host,
    port: handle.port,
    lazyConnect: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {}); // expected while killing servers; avoids ioredis' unhandled-error log
  return redis;
}

function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

describe('redis harness (spawned redis-server)', () => {
  let handle: RedisHandle;
  const clients: Redis[] = [];
  const connect = () => {
    const redis = client(handle);
    clients.push(redis);
    return redis;
  };

  beforeAll(async () => {
    handle = await startRedis();
  });

  afterAll(async () => {
    // ioredis 6: disconnect() on an already-ended client arms a never-cleared 2 s timer.
    for (const redis of clients) if (redis.status !== 'end') redis.disconnect();
    await handle?.stop();
  });

  it('starts a spawned server that answers PING with its own pid', async () => {
    expect(handle.source).toBe('spawned');
    expect(handle.url).toBe(`redis://127.0.0.1:${handle.port}`);
    const redis = connect();
    expect(await redis.ping()).toBe('PONG');
    const info = await redis.info('server');
    expect(Number(/process_id:(\d+)/.exec(info)?.[1])).toBe(handle.pid());
  });

  it('kill() ends client connections', async () => {
    const redis = connect();
    await redis.ping();
    await handle.kill();
    expect(handle.pid()).toBeUndefined();
    await waitFor(
      () =>
        redis.ping().then(
          () => false,
          () => true,
        ),
      {
        message: 'client did not notice the killed server',
      },
    );
    await handle.restart();
  });

  it('pause() stalls commands until resume()', async () => {
    const redis = connect();
    await redis.ping();
    handle.pause();
    const pending = redis.ping();
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise((r) => (timer = setTimeout(() => r('stalled'), 300)));
    try {
      expect(await Promise.race([pending, stalled])).toBe('stalled');
    } finally {
      clearTimeout(timer);
      handle.resume();
    }
    expect(await pending).toBe('PONG');
  });

  it('restart() gives an empty server on the same port', async () => {
    const before = connect();
    await before.set('harness:key', '1');
    expect(await before.dbsize()).toBe(1);
    const { port } = handle;
    const oldPid = handle.pid();
    await handle.restart();
    expect(handle.port).toBe(port);
    expect(handle.pid()).not.toBe(oldPid);
    expect(await connect().dbsize()).toBe(0);
  });

  it('stop() leaves no process, also when paused, and is idempotent', async () => {
    const own = await startRedis();
    const pid = own.pid()!;
    own.pause();
    await own.stop();
    expect(isGone(pid)).toBe(true);
    await own.stop();
  });
});

describe('redis harness helpers', () => {
  it('freePort() returns a usable port', async () => {
    const port = await freePort();
    expect(port).toBeGreaterThan(0);
  });

  it('waitFor() returns the first truthy value and times out with the message', async () => {
    let n = 0;
    expect(await waitFor(() => ++n >= 3 && n)).toBe(3);
    await expect(waitFor(() => false, { timeout: 50, message: 'never' })).rejects.toThrow(
      /^never after 50 ms/,
    );
  });

  it('TEST_REDIS_SOURCE=url uses REDIS_URL with a unique prefix and no fault controls', async () => {
    const server = await startRedis();
    const saved = { source: process.env.TEST_REDIS_SOURCE, url: process.env.REDIS_URL };
    process.env.TEST_REDIS_SOURCE = 'url';
    process.env.REDIS_URL = server.url;
    try {
      const a = await startRedis();
      const b = await startRedis();
      expect(a.source).toBe('url');
      expect(a.port).toBe(server.port);
      expect(a.keyPrefix).not.toBe(b.keyPrefix);
      expect(() => a.pause()).toThrow('fault controls need a spawned redis-server');
      await expect(a.kill()).rejects.toThrow('fault controls need a spawned redis-server');
      delete process.env.REDIS_URL;
      await expect(startRedis()).rejects.toThrow(/^No Redis for tests: install redis-server/);
    } finally {
      for (const [key, value] of [
        ['TEST_REDIS_SOURCE', saved.source],
        ['REDIS_URL', saved.url],
      ] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
      await server.stop();
    }
  });
});
