import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { DiscoveryModuleOptions } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { killAllNodes, NodeProcess, type NodeReport } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const HEARTBEAT = 200;
const TTL = 1000;
const REPORT_MS = 50;
/** One heartbeat, the grace for events in flight (150 ms), one view report, and some slack. */
const ONE_INTERVAL = HEARTBEAT + 150 + REPORT_MS + 100;

/**
 * Views always come back to what Redis holds: events on the channel are hints, checked against
 * the registry's version and digest on every heartbeat, whatever publishes on the channel and
 * whatever Redis loses. No signing key here: nothing stops a forged event from being applied.
 */
describe('views converge back to Redis (anti-entropy)', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let namespace = 0;
  let keyPrefix: string;
  const inProcess: TestNode[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
  });
  afterEach(async () => {
    await Promise.all(inProcess.splice(0).map((n) => n.close()));
    await killAllNodes();
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  async function cluster(ids: string[]): Promise<NodeProcess[]> {
    keyPrefix = `entropy-${namespace++}`;
    return Promise.all(ids.map((id) => startProcess(id)));
  }
  function startProcess(nodeId: string, extra: object = {}): Promise<NodeProcess> {
    return NodeProcess.start({
      discovery: {
        redis: redis.url,
        keyPrefix,
        nodeId,
        heartbeatInterval: HEARTBEAT,
        heartbeatTTL: TTL,
      },
      reportViewMs: REPORT_MS,
      ...extra,
    });
  }
  /** A node in this process (for `stats` and lookups), in the current namespace. */
  async function inProcessNode(nodeId: string, extra: Partial<DiscoveryModuleOptions> = {}) {
    const node = await startNode({
      redis: redis.url,
      keyPrefix,
      heartbeatInterval: HEARTBEAT,
      heartbeatTTL: TTL,
      nodeId,
      ...extra,
    });
    inProcess.push(node);
    return node;
  }
  const latestView = (node: NodeProcess, after = 0): NodeReport | undefined =>
    node.reports.filter((r) => r.event === 'view' && r.at > after).at(-1);
  /** Every node's view, reported after `after`, lists exactly `truth` (and these revs). */
  const viewsEqual = (
    nodes: NodeProcess[],
    truth: string[],
    after: number,
    revs: Record<string, string> = {},
  ) =>
    nodes.every((node) => {
      const view = latestView(node, after);
      return (
        view?.nodes?.join() === [...truth].sort().join() &&
        Object.entries(revs).every(([id, rev]) => view.revs?.[id] === rev)
      );
    });
  async function meta(): Promise<{ epoch: string; version: number }> {
    const [epoch, version] = await admin.hmget(`{${keyPrefix}}:meta`, 'epoch', 'version');
    return { epoch: epoch!, version: Number(version) };
  }
  async function forge(type: string, record: string, version: number, extra = ''): Promise<void> {
    const { epoch } = await meta();
    await admin.publish(
      `${keyPrefix}:events`,
      `{"type":"${type}","epoch":"${epoch}","version":${version},"timestamp":1${extra},"node":${record}}`,
    );
  }
  const phantom = (id: string, service = 'default') =>
    JSON.stringify({
      nodeId: id,
      serviceName: 'default',
      address: '10.9.9.9:1',
      services: [{ name: service }],
      metadata: {},
    });
  /** A real change made by a node (SIGUSR2: it writes a new metadata rev); resolves the rev. */
  async function realUpdate(node: NodeProcess): Promise<string> {
    const before = node.reports.filter((r) => r.event === 'updated').length;
    node.signal('SIGUSR2');
    const update = await waitFor(() => node.reports.filter((r) => r.event === 'updated')[before], {
      timeout: 2000,
    });
    return update!.rev!;
  }

  it('a forged registration is dropped by every view within one interval, and real updates after it are seen', async () => {
    const nodes = await cluster(['a', 'b', 'c']);
    const ids = ['a', 'b', 'c'];
    await waitFor(() => viewsEqual(nodes, ids, 0), { timeout: 3000 });
    const forgedAt = Date.now();
    await forge('NODE_REGISTERED', phantom('phantom'), (await meta()).version + 1);
    // Some view did take it (without a signing key an event is applied)...
    await waitFor(() => nodes.some((n) => latestView(n, forgedAt)?.nodes?.includes('phantom')), {
      timeout: 1000,
    });
    // ...and every view is back to the truth within one interval.
    await waitFor(() => viewsEqual(nodes, ids, Date.now() - REPORT_MS), {
      timeout: ONE_INTERVAL,
      message: 'a view kept the forged node',
    });
    const rev = await realUpdate(nodes[1]);
    await waitFor(() => viewsEqual(nodes, ids, 0, { b: rev }), {
      timeout: 1000,
      message: "b's update after the forgery was not seen",
    });
    const d = await startProcess('d');
    await waitFor(() => viewsEqual([...nodes, d], [...ids, 'd'], Date.now() - REPORT_MS), {
      timeout: 1000,
    });
  }, 30_000);

  it('a forged deregistration of a live node is undone within one interval, and does not touch its lease', async () => {
    keyPrefix = `entropy-${namespace++}`;
    const job = { name: 'steady', cron: '* * * * * *', durationMs: 1500, stepMs: 50 };
    const nodes = await Promise.all(['a', 'b'].map((id) => startProcess(id, { jobs: [job] })));
    await waitFor(() => viewsEqual(nodes, ['a', 'b'], 0), { timeout: 3000 });
    const runner = (await waitFor(() => nodes.find((n) => n.runs('steady').length > 0), {
      timeout: 5000,
    }))!;
    const run = runner.runs('steady').at(-1)!;
    const record = (await admin.hget(`{${keyPrefix}}:nodes`, runner.nodeId))!;
    await forge('NODE_DEREGISTERED', record, (await meta()).version + 1, ',"reason":"shutdown"');
    await waitFor(() => viewsEqual(nodes, ['a', 'b'], Date.now() - REPORT_MS), {
      timeout: ONE_INTERVAL + 200,
    });
    // The run in progress on that node finishes: its lease is judged by its own heartbeats.
    await waitFor(() => runner.reports.some((r) => r.event === 'done' && r.token === run.token), {
      timeout: 3000,
    });
    expect(runner.reports.filter((r) => r.event === 'aborted')).toEqual([]);
  }, 30_000);

  it('an event forged at the version of a real change (whose event is then dropped as seen) is found by the digest', async () => {
    keyPrefix = `entropy-${namespace++}`;
    const observer = await inProcessNode('observer');
    const ids = async () => (await observer.discovery.getActiveNodes()).map((n) => n.nodeId).sort();
    const next = (await meta()).version + 1;
    // Forged first, at the version the next real change (a registration) will get.
    await forge('NODE_REGISTERED', phantom('phantom'), next);
    await waitFor(async () => (await ids()).includes('phantom'), { timeout: 1000 });
    await inProcessNode('real');
    expect((await meta()).version).toBeGreaterThanOrEqual(next);
    // Same version as Redis, other content: the next heartbeat's digest tells.
    await waitFor(async () => (await ids()).join() === 'observer,real', {
      timeout: ONE_INTERVAL + 200,
      message: 'the view kept the forged node instead of the real one',
    });
    expect(
      observer.discovery.stats.divergences + observer.discovery.stats.rollbacks,
    ).toBeGreaterThan(0);
  }, 30_000);

  it("a partial view (viewScope: 'used') checks the digests of what it keeps: a forged node in a used service goes", async () => {
    keyPrefix = `entropy-${namespace++}`;
    const lean = await inProcessNode('lean', { viewScope: 'used' });
    await inProcessNode('api-1', { services: [{ name: 'api' }] });
    const apis = async () =>
      (await lean.discovery.findNodesByService('api'))
        .map((n) => n.nodeId)
        .sort()
        .join();
    await waitFor(async () => (await apis()) === 'api-1', { timeout: 1000 });
    await forge('NODE_REGISTERED', phantom('phantom', 'api'), (await meta()).version + 1);
    await waitFor(async () => (await apis()).includes('phantom'), { timeout: 1000 });
    await waitFor(async () => (await apis()) === 'api-1', {
      timeout: ONE_INTERVAL,
      message: 'the partial view kept the forged node',
    });
  }, 30_000);

  it('events out of order or with stale versions change nothing; a gap resyncs', async () => {
    const nodes = await cluster(['a', 'b']);
    await waitFor(() => viewsEqual(nodes, ['a', 'b'], 0), { timeout: 3000 });
    const { version } = await meta();
    await forge('NODE_REGISTERED', phantom('stale'), version - 1); // already seen: ignored
    await forge('NODE_REGISTERED', phantom('ahead'), version + 5); // a gap: resync from Redis
    await waitFor(() => viewsEqual(nodes, ['a', 'b'], Date.now() - REPORT_MS), {
      timeout: ONE_INTERVAL,
    });
    expect(nodes.every((n) => !n.reports.some((r) => r.nodes?.includes('stale')))).toBe(true);
    const rev = await realUpdate(nodes[0]);
    await waitFor(() => viewsEqual(nodes, ['a', 'b'], 0, { a: rev }), { timeout: 1000 });
  }, 30_000);

  it('Redis rolled back to an older copy of the registry: views follow it within an interval and count the rollback', async () => {
    const nodes = await cluster(['a', 'b', 'c']);
    await waitFor(() => viewsEqual(nodes, ['a', 'b', 'c'], 0), { timeout: 3000 });
    // A copy of every registry key, as a replica or a snapshot would have it...
    const keys = await registryKeys();
    const copy = await Promise.all(
      keys.map(async (key) => [key, await admin.dumpBuffer(key)] as const),
    );
    // ...then changes it does not have: updates, a node joining, a node leaving.
    for (let i = 0; i < 4; i++) await realUpdate(nodes[0]);
    const d = await startProcess('d');
    expect(await nodes[2].terminate()).toBe(0);
    const live = [nodes[0], nodes[1], d];
    await waitFor(() => viewsEqual(live, ['a', 'b', 'd'], 0), { timeout: 3000 });
    // Restore the copy: the version goes back under the same epoch.
    const restoredAt = Date.now();
    // In one MULTI, as a failover swaps the data at once: a heartbeat landing between the deletes
    // and the restores would find no registry and start a new epoch (a resync, not a rollback).
    const swap = admin.multi();
    for (const key of await registryKeys()) swap.del(key);
    for (const [key, data] of copy) swap.restore(key, 0, data!, 'REPLACE');
    await swap.exec();
    const revA = latestView(nodes[0])!.revs!.a;
    // Redis heals on its own: the stale c expires and is reaped, d and a write their records again.
    const redisHas = async () => (await admin.hkeys(`{${keyPrefix}}:nodes`)).sort().join();
    await waitFor(async () => (await redisHas()) === 'a,b,d', { timeout: TTL + 2000 });
    const healedAt = Date.now();
    // Every view follows Redis within one interval of it healing.
    await waitFor(() => viewsEqual(live, ['a', 'b', 'd'], healedAt, { a: revA }), {
      timeout: ONE_INTERVAL,
      message: 'views did not follow the rolled-back registry',
    });
    // They noticed the rollback (and followed it), not just kept what they had.
    const counters = live.map((n) => latestView(n, restoredAt)!.stats!);
    expect(counters.some((c) => c.rollbacks > 0)).toBe(true);
  }, 30_000);

  it('a crashed node is reaped with its tag: digests stay equal, no view needs repairing', async () => {
    const nodes = await cluster(['a', 'b', 'c']);
    await waitFor(() => viewsEqual(nodes, ['a', 'b', 'c'], 0), { timeout: 3000 });
    await nodes[2].kill();
    const killedAt = Date.now();
    await waitFor(() => viewsEqual(nodes.slice(0, 2), ['a', 'b'], killedAt), {
      timeout: TTL + 1000,
    });
    // A few more heartbeats compare digests after the expiry.
    const settled = Date.now() + 3 * HEARTBEAT;
    await waitFor(() => nodes.slice(0, 2).every((n) => latestView(n, settled)), { timeout: 2000 });
    for (const node of nodes.slice(0, 2)) {
      expect(latestView(node)!.stats).toMatchObject({ divergences: 0, rollbacks: 0 });
    }
  }, 30_000);

  async function registryKeys(): Promise<string[]> {
    const found: string[] = [];
    let cursor = '0';
    do {
      const [next, keys] = await admin.scan(cursor, 'MATCH', `{${keyPrefix}}:*`, 'COUNT', 1000);
      cursor = next;
      found.push(...keys);
    } while (cursor !== '0');
    return found;
  }
});
