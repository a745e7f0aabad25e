import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Redis } from 'ioredis';
import {
  DistributedJob,
  type DiscoveryEvent,
  type DiscoveryModuleOptions,
} from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

@Injectable()
class GuardedJob {
  readonly ticks: number[] = [];
  @DistributedJob({ name: 'guarded', period: 100 })
  run(): void {
    this.ticks.push(Date.now());
  }
}

const SIGNING_KEY = 'a-shared-secret-of-the-cluster';

describe('access control', () => {
  let redis: RedisHandle;
  let admin: Redis;
  const nodes: TestNode[] = [];
  const node = async (
    options: DiscoveryModuleOptions,
    providers: Array<new (...args: never[]) => unknown> = [],
  ) => {
    const started = await startNode(
      {
        redis: redis.url,
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
        poolSettleTime: 0,
        ...options,
      },
      { providers: providers as never },
    );
    nodes.push(started);
    return started;
  };

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  it('keeps two namespaces on one Redis apart: nodes, events and jobs', async () => {
    const a = await node({ keyPrefix: 'tenant-a', nodeId: 'shared-id' }, [GuardedJob]);
    const b = await node({ keyPrefix: 'tenant-b', nodeId: 'shared-id' }, [GuardedJob]);
    const eventsOfA: DiscoveryEvent[] = [];
    await a.discovery.subscribeToEvents((e) => void eventsOfA.push(e));
    await node({ keyPrefix: 'tenant-b', nodeId: 'only-in-b' });
    await waitFor(() => b.discovery.isNodeActive('only-in-b'));

    expect((await a.discovery.getActiveNodes()).map((n) => n.nodeId)).toEqual(['shared-id']);
    expect(eventsOfA.filter((e) => e.nodeId === 'only-in-b')).toEqual([]);
    // The same job name in both namespaces: each runs its own ticks.
    const jobA = a.app.get(GuardedJob);
    const jobB = b.app.get(GuardedJob);
    expect(await jobA.run()).toBeUndefined();
    await jobB.run();
    expect(jobA.ticks).toHaveLength(1);
    expect(jobB.ticks).toHaveLength(1);
  });

  it('works with requirepass, and fails at startup with the wrong password', async () => {
    const locked = await startRedis({ args: ['--requirepass', 's3cret-pass'] });
    try {
      const url = `redis://:s3cret-pass@127.0.0.1:${locked.port}`;
      const a = await node({ redis: url, keyPrefix: 'locked', nodeId: 'a' });
      expect((await a.discovery.getActiveNodes({ fresh: true })).map((n) => n.nodeId)).toEqual([
        'a',
      ]);
      await expect(
        node({
          redis: `redis://:wrong@127.0.0.1:${locked.port}`,
          keyPrefix: 'locked',
          nodeId: 'b',
          heartbeatTTL: 300,
          heartbeatInterval: 100,
        }),
      ).rejects.toThrow(/WRONGPASS|NOAUTH|invalid username-password/);
      await Promise.all(nodes.splice(0).map((n) => n.close()));
    } finally {
      await locked.stop();
    }
  });

  describe('with a signing key', () => {
    it('ignores a node injected by a writer without the key', async () => {
      const a = await node({ keyPrefix: 'signed-1', nodeId: 'a', signingKey: SIGNING_KEY });
      const seen: DiscoveryEvent[] = [];
      await a.discovery.subscribeToEvents((e) => void seen.push(e));
      const fake = JSON.stringify({
        nodeId: 'intruder',
        serviceName: 'default',
        address: 'evil:1',
        services: [{ name: 'default' }],
        metadata: {},
        sig: 'bogus',
      });
      await admin.hset('{signed-1}:nodes', 'intruder', fake);
      await admin.zadd('{signed-1}:deadlines', Date.now() + 60_000, 'intruder');
      await admin.sadd('{signed-1}:svc:default', 'intruder');
      const [epoch, version] = await admin.hmget('{signed-1}:meta', 'epoch', 'version');
      await admin.publish(
        'signed-1:events',
        `{"type":"NODE_REGISTERED","epoch":"${epoch}","version":${Number(version) + 1},"timestamp":1,"node":${fake}}`,
      );
      await waitFor(() => a.discovery.stats.unverified >= 1);
      expect(
        (await a.discovery.findNodesByService('default', undefined, { fresh: true })).map(
          (n) => n.nodeId,
        ),
      ).toEqual(['a']);
      expect((await a.discovery.getActiveNodes()).map((n) => n.nodeId)).toEqual(['a']);
      expect(seen.filter((e) => e.nodeId === 'intruder')).toEqual([]);
    });

    it('ignores a forged deregistration of a live node', async () => {
      const a = await node({ keyPrefix: 'signed-2', nodeId: 'a', signingKey: SIGNING_KEY });
      await node({ keyPrefix: 'signed-2', nodeId: 'b', signingKey: SIGNING_KEY });
      await waitFor(() => a.discovery.isNodeActive('b'));
      const realRecord = await admin.hget('{signed-2}:nodes', 'b');
      const [epoch, version] = await admin.hmget('{signed-2}:meta', 'epoch', 'version');
      await admin.publish(
        'signed-2:events',
        `{"type":"NODE_DEREGISTERED","epoch":"${epoch}","version":${Number(version) + 1},"timestamp":1,"reason":"shutdown","node":${realRecord}}`,
      );
      await waitFor(() => a.discovery.stats.unverified >= 1);
      expect(await a.discovery.isNodeActive('b')).toBe(true);
    });

    it('overrides a forged job claim that would block a tick', async () => {
      const a = await node({ keyPrefix: 'signed-3', nodeId: 'a', signingKey: SIGNING_KEY }, [
        GuardedJob,
      ]);
      // Someone with write access but no key claims the coming ticks of the job.
      const key = 'signed-3:job:{default:guarded}';
      const now = Number((await admin.time())[0]) * 1000;
      for (let tick = now - 1000; tick < now + 5000; tick += 100) {
        await admin.hset(key, `t:${tick}`, `claimed 1 intruder ${now} forged`);
        await admin.zadd(`${key}:ticks`, tick, String(tick));
      }
      const job = a.app.get(GuardedJob);
      await job.run();
      expect(job.ticks).toHaveLength(1);
      expect(a.discovery.stats.unverified).toBe(1);
      const [latest] = (await a.jobs.recentRuns('guarded', 100)).filter((r) => r.nodeId === 'a');
      expect(latest).toMatchObject({ status: 'claimed' });
      expect(Math.abs(latest.startedAt - job.ticks[0])).toBeLessThan(1000);
    });
  });
});
