// What keeps views and Redis's own bookkeeping right when Redis is written around the library, on
// a real Redis: keys that stay bounded, records written, restored and deleted directly, a lost
// event of a node's own change, and records at the size limit.
import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  DistributedJob,
  InvalidArgumentError,
  type DiscoveryEvent,
  type NodeInfo,
} from 'nestjs-redis-discovery';
import { MAX_RECORD_BYTES } from '../../lib/common/record-size.js';
import { RedisRegistryStore } from '../../lib/storage/redis/redis-registry.store.js';
import { recordTag } from '../../lib/storage/registry-digest.js';
import { registryKeys } from '../../lib/storage/registry-keys.js';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const TIMING = { heartbeatInterval: 200, heartbeatTTL: 1000 } as const;

@Injectable()
class OneJob {
  /** Called directly by the test (no schedule): one claimed run. */
  @DistributedJob({ name: 'once', period: 60_000 })
  async once(): Promise<string> {
    return 'ran';
  }
}

describe('registry repair on Redis', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let keyPrefix: string;
  let namespace = 0;
  const nodes: TestNode[] = [];

  async function node(
    nodeId: string,
    extra: object = {},
    providers: Array<typeof OneJob> = [],
  ): Promise<TestNode> {
    const started = await startNode(
      { redis: redis.url, keyPrefix, nodeId, ...TIMING, ...extra },
      { providers },
    );
    nodes.push(started);
    return started;
  }

  const key = (name: string) => `{${keyPrefix}}:${name}`;
  const shape = (list: NodeInfo[]) =>
    list.map((n) => JSON.stringify(n)).sort((a, b) => a.localeCompare(b));

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  beforeEach(() => {
    keyPrefix = `${redis.keyPrefix}repair-${namespace++}`;
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  it('1000 distinct service names come and go: meta keeps digest fields of live names only', async () => {
    const client = new Redis(redis.url);
    const store = new RedisRegistryStore({
      client,
      ownsClient: true,
      keys: registryKeys(keyPrefix, `${keyPrefix}:events`),
      pubSubEnabled: false,
    });
    try {
      const beat = (nodeId: string, instance: string, service: string) => {
        const record = JSON.stringify({
          nodeId,
          serviceName: `pool-${service}`,
          address: 'x:1',
          services: [{ name: service }],
          metadata: {},
        });
        return store.beat({
          nodeId,
          instance,
          record,
          tag: recordTag(record),
          pool: `pool-${service}`,
          services: [service],
          ttl: 60_000,
        });
      };
      const instances = new Map<string, string>();
      for (let i = 0; i < 1000; i++) {
        // Ten nodes move from name to name (updates); every other step one leaves and comes
        // back as a new process (a deregistration, then a registration).
        const id = `n-${i % 10}`;
        const instance = instances.get(id) ?? `i-${i}`;
        instances.set(id, instance);
        await beat(id, instance, `svc-${i}`);
        if (i % 20 < 10 && i % 2 === 0) {
          await store.deregister(id, instance, 1);
          instances.delete(id);
        }
      }
      const meta = await admin.hkeys(key('meta'));
      const digestFields = meta.filter((f) => f.startsWith('d:') || f.startsWith('p:')).sort();
      const live = await admin.hvals(key('nodes'));
      const expected = live
        .map((raw) => JSON.parse(raw) as NodeInfo)
        .flatMap((n) => [`d:${n.services[0].name}`, `p:${n.serviceName}`])
        .sort();
      expect(live.length).toBeGreaterThan(0);
      expect(digestFields).toEqual(expected);
      const sets = await admin.keys(`${key('')}*`);
      expect(sets.filter((k) => /:(svc|pool):/.test(k))).toHaveLength(expected.length);
    } finally {
      await store.close();
    }
  }, 60_000);

  it('records written, restored and deleted in Redis directly: every view equals a fresh lookup within one interval + 150 ms, then no resync loop', async () => {
    const all = [await node('a'), await node('b'), await node('c')];
    await waitFor(async () => {
      for (const n of all) if ((await n.discovery.getActiveNodes()).length !== 3) return false;
      return true;
    });
    const agree = async () => {
      const truth = shape(await all[0].discovery.getActiveNodes({ fresh: true }));
      for (const n of all) {
        if (JSON.stringify(shape(await n.discovery.getActiveNodes())) !== JSON.stringify(truth))
          return false;
      }
      return true;
    };
    const bound = TIMING.heartbeatInterval + 150;
    const settle = async (what: string) => {
      const begun = Date.now();
      await waitFor(agree, { timeout: bound, interval: 5, message: `${what}: views differ` });
      return Date.now() - begun;
    };
    const noLoop = async () => {
      // The repair (a resync, and a recount if Redis's digests were wrong) is over: nothing more.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      const before = all.map((n) => n.discovery.stats.resyncs);
      await new Promise((resolve) => setTimeout(resolve, 10 * TIMING.heartbeatInterval));
      expect(all.map((n) => n.discovery.stats.resyncs)).toEqual(before);
    };
    const took: Record<string, number> = {};

    // Written: a node no library process wrote (record, deadline and index sets).
    const ghost = JSON.stringify({
      nodeId: 'ghost',
      serviceName: 'default',
      address: '10.9.9.9:1',
      services: [{ name: 'default' }],
      metadata: {},
    });
    const [seconds] = await admin.time();
    await admin
      .multi()
      .hset(key('nodes'), 'ghost', ghost)
      .zadd(key('deadlines'), Number(seconds) * 1000 + 600_000, 'ghost')
      .sadd(key('svc:default'), 'ghost')
      .sadd(key('pool:default'), 'ghost')
      .exec();
    took.written = await settle('a record written directly');
    expect((await all[1].discovery.getActiveNodes()).map((n) => n.nodeId)).toContain('ghost');
    await noLoop();

    // Restored: b's record before its last update put back.
    const before = await admin.hget(key('nodes'), 'b');
    await all[1].discovery.updateMetadata({ rev: '2' });
    await waitFor(agree);
    await admin.hset(key('nodes'), 'b', before!);
    took.restored = await settle('a record restored directly');
    expect(
      (await all[0].discovery.getActiveNodes({ fresh: true })).find((n) => n.nodeId === 'b')!
        .metadata,
    ).toEqual({ rev: '2' });
    await noLoop();

    // Deleted: the ghost's keys removed by hand.
    await admin
      .multi()
      .hdel(key('nodes'), 'ghost')
      .zrem(key('deadlines'), 'ghost')
      .srem(key('svc:default'), 'ghost')
      .srem(key('pool:default'), 'ghost')
      .exec();
    took.deleted = await settle('a record deleted directly');
    await noLoop();
    expect(await admin.hget(key('meta'), 'o:ghost')).toBeNull();
    console.log(`views equal a fresh lookup after (ms): ${JSON.stringify(took)}`);
  }, 60_000);

  it("a node's own subscriber gets its own update after the subscriber connections were cut", async () => {
    const all = [await node('a'), await node('b'), await node('c')];
    const heard = all.map((n) => {
      const own: DiscoveryEvent[] = [];
      void n.discovery.subscribeToEvents((event) => {
        if (event.nodeId === n.discovery.self.nodeId && event.metadata.rev) own.push(event);
      });
      return own;
    });
    await waitFor(async () => (await all[2].discovery.getActiveNodes()).length === 3);
    // Cut every subscriber, then update at once: the events are published to no one.
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    await Promise.all(all.map((n, i) => n.discovery.updateMetadata({ rev: `r${i}` })));
    await waitFor(() => heard.every((own) => own.length > 0), {
      timeout: 3000,
      message: 'a node never heard of its own update',
    });
    heard.forEach((own, i) => expect(own[0].metadata).toEqual({ rev: `r${i}` }));
  });

  it('metadata up to the record limit is listed by every peer; over it, the call fails naming the field and size', async () => {
    const [a, b] = [await node('a'), await node('b')];
    await waitFor(async () => (await b.discovery.getActiveNodes()).length === 2);
    const self = a.discovery.self;
    // Entries of up to 4096 characters until the record (with room for a signature, 52 bytes)
    // is exactly at the limit.
    const sizeOf = (m: Record<string, string>) =>
      Buffer.byteLength(JSON.stringify({ ...self, metadata: m })) + 52;
    const metadata: Record<string, string> = {};
    for (let i = 0; sizeOf(metadata) < MAX_RECORD_BYTES; i++) {
      const name = `k${String(i).padStart(2, '0')}`;
      metadata[name] = '';
      metadata[name] = 'x'.repeat(Math.min(4096, MAX_RECORD_BYTES - sizeOf(metadata)));
    }
    expect(sizeOf(metadata)).toBe(MAX_RECORD_BYTES);
    await a.discovery.updateMetadata(metadata);
    const stored = (await admin.hget(key('nodes'), 'a'))!;
    expect(Buffer.byteLength(stored)).toBe(MAX_RECORD_BYTES - 52); // unsigned: no signature
    await waitFor(
      async () =>
        (await b.discovery.getActiveNodes()).find((n) => n.nodeId === 'a')?.metadata.k00 !==
        undefined,
      { message: 'the peer never listed the large record' },
    );
    expect((await b.discovery.getActiveNodes({ fresh: true })).map((n) => n.nodeId)).toContain('a');
    expect(b.discovery.stats.malformedRecords + b.discovery.stats.malformedEvents).toBe(0);

    const over = { ...metadata, extra: 'y'.repeat(4096) };
    const failure = await (async () => a.discovery.updateMetadata(over))().catch(
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(InvalidArgumentError);
    expect((failure as Error).message).toMatch(
      new RegExp(
        `^metadata \\(\\d+ bytes as JSON\\) would make this node's record \\d+ bytes, over the ${MAX_RECORD_BYTES}-byte limit`,
      ),
    );
    expect((await b.discovery.getActiveNodes()).find((n) => n.nodeId === 'a')?.metadata).toEqual(
      metadata,
    );
  });

  it("a job's keys expire once no node has claimed it for 7 days", async () => {
    const worker = await node('worker', {}, [OneJob]);
    expect(await worker.app.get(OneJob).once()).toBe('ran');
    const jobKey = `${keyPrefix}:job:{default:once}`;
    const week = 7 * 86_400_000;
    for (const k of [jobKey, `${jobKey}:ticks`]) {
      const left = await admin.pttl(k);
      expect(left).toBeGreaterThan(week - 60_000);
      expect(left).toBeLessThanOrEqual(week);
    }
  });
});
