import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { randomBytes } from 'node:crypto';
import { DistributedJob, InvalidArgumentError } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const HOSTILE_NAMES: Array<[string, string]> = [
  ['a glob star', 'api*'],
  ['a glob question mark', 'api?'],
  ['an opening hash-tag brace', 'api{x'],
  ['a closing hash-tag brace', 'api}'],
  ['a colon', 'api:v1'],
  ['a space', 'my api'],
  ['a newline', 'api\nFLUSHALL'],
  ['unicode', 'сервис'],
  ['10 KB', 'a'.repeat(10 * 1024)],
  ['an empty string', ''],
];

describe('hostile input', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let node: TestNode;
  const keyPrefix = 'hostile';

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    node = await startNode({
      redis: redis.url,
      keyPrefix,
      nodeId: 'target',
      heartbeatInterval: 200,
      heartbeatTTL: 1000,
    });
  });
  afterEach(async () => {
    await admin.del(`{${keyPrefix}}:junk`);
  });
  afterAll(async () => {
    await node.close();
    admin.disconnect();
    await redis.stop();
  });

  describe('at the API boundary: a typed error, and nothing written', () => {
    it.each(HOSTILE_NAMES)('refuses a service name with %s', async (_label, name) => {
      const before = await admin.hget(`{${keyPrefix}}:nodes`, 'target');
      await expect(node.discovery.findNodesByService(name)).rejects.toThrow(InvalidArgumentError);
      await expect(node.discovery.isNodeActive(name)).rejects.toThrow(InvalidArgumentError);
      expect(() => node.discovery.updateServices([{ name }])).toThrow(InvalidArgumentError);
      expect(await admin.hget(`{${keyPrefix}}:nodes`, 'target')).toBe(before);
    });

    it.each([
      ['a space', 'k y'],
      ['a newline', 'k\ny'],
      ['10 KB', 'k'.repeat(10 * 1024)],
      ['an empty string', ''],
    ])('refuses a metadata key with %s', (_label, key) => {
      expect(() => node.discovery.updateMetadata({ [key]: 'v' })).toThrow(InvalidArgumentError);
    });

    it('refuses an address with whitespace and values of the wrong type', () => {
      expect(() => node.discovery.updateAddress('10.0.0.1 :80')).toThrow(InvalidArgumentError);
      expect(() => node.discovery.updateServices('api' as never)).toThrow(InvalidArgumentError);
      expect(() => node.discovery.updateMetadata({ n: 1 } as never)).toThrow(InvalidArgumentError);
    });

    it('refuses a job name that could break a key, when the class is declared', () => {
      expect(() => {
        class BadJob {
          @DistributedJob('nightly*')
          run(): void {}
        }
        return BadJob;
      }).toThrow(InvalidArgumentError);
    });
  });

  describe('at runtime: skipped and counted, never fatal', () => {
    it('survives 500 random-byte messages and wrong JSON shapes on the channel', async () => {
      const channel = `${keyPrefix}:events`;
      const before = node.discovery.stats.malformedEvents;
      const valid = {
        type: 'NODE_UPDATED',
        epoch: 'e',
        version: 1,
        timestamp: 1,
        node: { nodeId: 'x' },
      };
      const shapes = [
        ...Object.keys(valid).map((key) => JSON.stringify({ ...valid, [key]: { nested: [1, 2] } })),
        JSON.stringify({ ...valid, version: -1 }),
        JSON.stringify({ ...valid, version: 1.5 }),
        JSON.stringify({ ...valid, type: 'NODE_DEREGISTERED', reason: 'because' }),
        JSON.stringify({
          ...valid,
          node: {
            nodeId: 'x',
            serviceName: 'default',
            address: 'a',
            services: 'api',
            metadata: {},
          },
        }),
        JSON.stringify({
          ...valid,
          node: {
            nodeId: 'x',
            serviceName: 'default',
            address: 'a',
            services: [],
            metadata: { a: 1 },
          },
        }),
        '{"__proto__":{"polluted":true}}',
        'x'.repeat(100 * 1024),
      ];
      const random = Array.from({ length: 500 }, () =>
        randomBytes(1 + Math.floor(Math.random() * 200)),
      );
      for (const message of [...shapes, ...random]) await admin.publish(channel, message);
      const total = shapes.length + random.length;
      await waitFor(() => node.discovery.stats.malformedEvents - before === total, {
        timeout: 5000,
      });
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();

      const peer = await startNode({
        redis: redis.url,
        keyPrefix,
        nodeId: 'peer',
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
      });
      try {
        await waitFor(() => node.discovery.isNodeActive('peer'));
      } finally {
        await peer.close();
      }
    });

    it('skips corrupt node records in Redis and keeps the valid ones', async () => {
      const good = JSON.parse((await admin.hget(`{${keyPrefix}}:nodes`, 'target'))!);
      const corrupt: Record<string, string> = {
        'bad-json': '{"nodeId":',
        'bad-services': JSON.stringify({
          ...good,
          nodeId: 'bad-services',
          services: [{ name: 'a b' }],
        }),
        'bad-metadata': JSON.stringify({
          ...good,
          nodeId: 'bad-metadata',
          metadata: { k: { deep: 1 } },
        }),
        'bad-address': JSON.stringify({ ...good, nodeId: 'bad-address', address: 42 }),
        'huge-record': JSON.stringify({
          ...good,
          nodeId: 'huge-record',
          metadata: { k: 'v'.repeat(70 * 1024) },
        }),
        'an array': '[1,2,3]',
      };
      for (const [id, record] of Object.entries(corrupt)) {
        await admin.hset(`{${keyPrefix}}:nodes`, id, record);
        await admin.zadd(`{${keyPrefix}}:deadlines`, Date.now() + 60_000, id);
        await admin.sadd(`{${keyPrefix}}:svc:default`, id);
      }
      const before = node.discovery.stats.malformedRecords;
      const found = await node.discovery.findNodesByService('default', undefined, { fresh: true });
      expect(found.map((n) => n.nodeId)).toEqual(['target']);
      expect(node.discovery.stats.malformedRecords - before).toBe(Object.keys(corrupt).length);
      expect((await node.discovery.getActiveNodes({ fresh: true })).map((n) => n.nodeId)).toEqual([
        'target',
      ]);
      for (const id of Object.keys(corrupt)) {
        await admin.hdel(`{${keyPrefix}}:nodes`, id);
        await admin.zrem(`{${keyPrefix}}:deadlines`, id);
        await admin.srem(`{${keyPrefix}}:svc:default`, id);
      }
    });
  });
});
