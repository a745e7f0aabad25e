// Genuine signed records written back by someone who can write to Redis but lacks the key (issue
// 23, item 2), with real node processes: an old record of a live node is repaired by its owner's
// next heartbeat, and a node that shut down cannot be brought back with its last record.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { startNode, type TestNode } from '../support/nest-node.js';
import { killAllNodes, NodeProcess } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const TIMING = { heartbeatInterval: 300, heartbeatTTL: 1500 } as const;
const signingKey = 'a-shared-secret-of-the-cluster';

describe('replayed genuine records (signingKey)', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let keyPrefix: string;
  let namespace = 0;
  let observer: TestNode | undefined;

  const key = (name: string) => `{${keyPrefix}}:${name}`;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  beforeEach(() => {
    keyPrefix = `${redis.keyPrefix}replay-${namespace++}`;
  });
  afterEach(async () => {
    await observer?.close();
    observer = undefined;
    await killAllNodes();
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  async function cluster() {
    const discovery = { redis: redis.url, keyPrefix, signingKey, ...TIMING };
    const victim = await NodeProcess.start({ discovery: { ...discovery, nodeId: 'victim' } });
    observer = await startNode({ ...discovery, nodeId: 'observer', serviceName: 'observers' });
    await waitFor(async () => (await observer!.discovery.getActiveNodes()).length === 2);
    return { victim, observer };
  }

  const updated = (victim: NodeProcess) =>
    waitFor(() => victim.reports.find((r) => r.event === 'updated')?.rev);

  it("an old record of a live node written back is repaired by its owner's next heartbeat", async () => {
    const { victim, observer } = await cluster();
    const old = (await admin.hget(key('nodes'), 'victim'))!;
    victim.signal('SIGUSR2'); // a real update: metadata rev = now
    const rev = await updated(victim);
    const current = (await admin.hget(key('nodes'), 'victim'))!;
    expect(current).not.toBe(old);

    await admin.hset(key('nodes'), 'victim', old); // the replay: genuine, signed, out of date
    const replayedAt = Date.now();
    // Not believed meanwhile: its owner's lease names another record.
    const fresh = await observer.discovery.findNodesByService('default', undefined, {
      fresh: true,
    });
    expect(fresh.find((n) => n.nodeId === 'victim')?.metadata.rev ?? rev).toBe(rev);
    await waitFor(async () => (await admin.hget(key('nodes'), 'victim')) === current, {
      timeout: TIMING.heartbeatInterval + 150,
      interval: 5,
      message: 'the owner did not repair its record within one heartbeat',
    });
    const repairedIn = Date.now() - replayedAt;
    const listed = await observer.discovery.findNodesByService('default', undefined, {
      fresh: true,
    });
    expect(listed.find((n) => n.nodeId === 'victim')?.metadata.rev).toBe(rev);
    expect(
      (await observer.discovery.getActiveNodes()).find((n) => n.nodeId === 'victim')?.metadata.rev,
    ).toBe(rev);
    expect(victim.problems()).toEqual([]);
    console.log(`replayed record repaired by its owner after ${repairedIn} ms`);
  });

  it('a node that shut down cannot be brought back with its last record and a far deadline', async () => {
    const { victim, observer } = await cluster();
    const record = (await admin.hget(key('nodes'), 'victim'))!;
    const owner = (await admin.hget(key('meta'), 'o:victim'))!;
    expect(await victim.terminate()).toBe(0);
    const stoppedAt = Date.now();
    await waitFor(async () => !(await observer.discovery.isNodeActive('victim')));

    // Everything the node had, written back, with a deadline a day away.
    const [seconds] = await admin.time();
    await admin
      .multi()
      .hset(key('nodes'), 'victim', record)
      .hset(key('meta'), 'o:victim', owner)
      .zadd(key('deadlines'), Number(seconds) * 1000 + 86_400_000, 'victim')
      .sadd(key('svc:default'), 'victim')
      .sadd(key('pool:default'), 'victim')
      .exec();
    // Its last lease lasts one TTL from its last heartbeat: believed until then at most, then
    // reaped by a peer's beat (one node's lease checked per beat), whatever its deadline says.
    const leaseOver = TIMING.heartbeatTTL + 4 * TIMING.heartbeatInterval;
    await waitFor(
      async () =>
        !(await observer.discovery.isNodeActive('victim')) &&
        (await observer.discovery.getActiveNodes({ fresh: true })).length === 1,
      {
        timeout: Math.max(0, stoppedAt + leaseOver - Date.now()),
        message: 'the replayed node stayed',
      },
    );
    const resyncsBefore = observer.discovery.stats.resyncs;
    expect((await observer.discovery.getActiveNodes()).map((n) => n.nodeId)).toEqual(['observer']);
    expect((await observer.discovery.getActiveNodes({ fresh: true })).map((n) => n.nodeId)).toEqual(
      ['observer'],
    );
    expect(
      await observer.discovery.findNodesByService('default', undefined, { fresh: true }),
    ).toEqual([]);
    expect(await admin.zscore(key('deadlines'), 'victim')).toBeNull();
    // And no resync loop follows.
    await new Promise((resolve) => setTimeout(resolve, 6 * TIMING.heartbeatInterval));
    expect(observer.discovery.stats.resyncs).toBe(resyncsBefore);
    expect(await observer.discovery.isNodeActive('victim')).toBe(false);
  });
});
