import { afterEach, describe, expect, it } from '@jest/globals';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Redis } from 'ioredis';
import net from 'node:net';
import {
  DiscoveryModule,
  RegistryUnavailableError,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { freePort, startRedis, type RedisHandle } from '../support/redis-harness.js';

/**
 * A start that waits for a late Redis (docker-compose and Kubernetes often start both together),
 * and fails clearly, leaving nothing running, when Redis never answers.
 */
describe('start-up while Redis is not there yet', () => {
  const started: Array<{ stop(): Promise<void> } | TestNode> = [];
  afterEach(async () => {
    for (const item of started.splice(0)) {
      await ('close' in item ? item.close() : item.stop());
    }
  });

  const options = (port: number, extra: Partial<DiscoveryModuleOptions> = {}) => ({
    redis: `redis://127.0.0.1:${port}`,
    keyPrefix: `late-${port}`,
    nodeId: 'early-bird',
    heartbeatInterval: 200,
    heartbeatTTL: 1500,
    ...extra,
  });

  it.each([500, 3000, 20_000])(
    'Redis started %i ms after the app: init() waits, then registers once Redis answers',
    async (delayMs) => {
      const port = await freePort();
      const begun = Date.now();
      const init = startNode(options(port));
      let redis: RedisHandle | undefined;
      const redisUp = new Promise<number>((resolve) =>
        setTimeout(async () => {
          redis = await startRedis({ port });
          started.push(redis);
          resolve(Date.now());
        }, delayMs),
      );
      const node = await init;
      started.unshift(node); // closed before Redis stops
      const upAt = await redisUp;
      expect(Date.now()).toBeGreaterThanOrEqual(upAt);
      // Registered in Redis and valid once init() resolved.
      expect(node.discovery.leaseStatus()).toMatchObject({ registered: true, valid: true });
      const admin = new Redis(redis!.url);
      expect(await admin.hexists(`{late-${port}}:nodes`, 'early-bird')).toBe(1);
      admin.disconnect();
      // ...and not long after Redis came up (reconnect backoff, at most 2 s).
      expect(Date.now() - upAt).toBeLessThan(2500);
      expect(Date.now() - begun).toBeGreaterThanOrEqual(delayMs);
    },
    40_000,
  );

  it('Redis never answers: one clear error naming the address after startupTimeout, no deregistration attempt, nothing left running', async () => {
    const port = await freePort();
    const warnings: string[] = [];
    @Module({ imports: [DiscoveryModule.forRoot(options(port, { startupTimeout: 1500 }))] })
    class NeverModule {}
    const begun = Date.now();
    const failure = await NestFactory.createApplicationContext(NeverModule, {
      abortOnError: false,
      logger: {
        log() {},
        error() {},
        warn: (message: unknown) => void warnings.push(String(message)),
      },
    })
      .then((app) => app.init())
      .then(
        () => undefined,
        (error: unknown) => error,
      );
    const waited = Date.now() - begun;

    expect(failure).toBeInstanceOf(RegistryUnavailableError);
    const error = failure as RegistryUnavailableError;
    expect(error.address).toBe(`127.0.0.1:${port}`);
    expect(error.message).toMatch(
      new RegExp(`^Redis at 127\\.0\\.0\\.1:${port} did not answer within \\d+ ms`),
    );
    expect(error.lastError).toMatch(/ECONNREFUSED/);
    expect(waited).toBeGreaterThanOrEqual(1500);
    expect(waited).toBeLessThan(1500 + 1500);
    // It said once that it was waiting, and never tried to deregister a node that never registered.
    expect(warnings.filter((w) => w.startsWith('Waiting for Redis'))).toHaveLength(1);
    expect(warnings.filter((w) => /deregist/i.test(w))).toEqual([]);
    // Nothing is left trying: with Redis now listening on that port, no client of the module
    // connects (one would within its reconnect backoff, at most about 1 s).
    const server = net.createServer((socket) => socket.destroy());
    let connections = 0;
    server.on('connection', () => (connections += 1));
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    await new Promise((resolve) => setTimeout(resolve, 2000));
    await new Promise((resolve) => server.close(resolve));
    expect(connections).toBe(0);
  }, 20_000);
});
