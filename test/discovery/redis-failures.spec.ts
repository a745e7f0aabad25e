import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import type { DiscoveryEvent } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { killAllNodes, NodeProcess } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

const HEARTBEAT = 200;
const TTL = 1000;

describe('discovery on Redis under failure', () => {
  let redis: RedisHandle;
  let admin: Redis;
  let keyPrefix: string;
  let namespace = 0;
  const nodes: TestNode[] = [];

  async function node(nodeId: string, extra: object = {}): Promise<TestNode> {
    const started = await startNode({
      redis: redis.url,
      keyPrefix,
      nodeId,
      heartbeatInterval: HEARTBEAT,
      heartbeatTTL: TTL,
      ...extra,
    });
    nodes.push(started);
    return started;
  }

  function record(target: TestNode): DiscoveryEvent[] {
    const events: DiscoveryEvent[] = [];
    void target.discovery.subscribeToEvents((event) => void events.push(event));
    return events;
  }

  /** Every raw message published on the namespace's channel, as Redis delivered it. */
  async function tapChannel(): Promise<{ messages: string[]; close: () => void }> {
    const tap = admin.duplicate();
    const messages: string[] = [];
    tap.on('message', (_channel: string, message: string) => messages.push(message));
    await tap.subscribe(`${keyPrefix}:events`);
    return { messages, close: () => tap.disconnect() };
  }

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
  });
  beforeEach(() => {
    keyPrefix = `failures-${namespace++}`;
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
    await killAllNodes();
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  it('drops a SIGKILLed node from every peer within heartbeatTTL + 250 ms, announcing one expiry', async () => {
    const observers = [
      await node('observer-1'),
      await node('observer-2'),
      await node('observer-3'),
    ];
    const seen = observers.map(record);
    const tap = await tapChannel();
    const victim = await NodeProcess.start({
      discovery: {
        redis: redis.url,
        keyPrefix,
        nodeId: 'victim',
        heartbeatInterval: HEARTBEAT,
        heartbeatTTL: TTL,
      },
    });
    for (const observer of observers)
      await waitFor(() => observer.discovery.isNodeActive('victim'));

    const killedAt = performance.now();
    await victim.kill();
    const dropped = await Promise.all(
      observers.map(async (observer) => {
        await waitFor(async () => !(await observer.discovery.isNodeActive('victim')), {
          timeout: TTL + 2000,
        });
        return performance.now() - killedAt;
      }),
    );
    for (const elapsed of dropped) expect(elapsed).toBeLessThanOrEqual(TTL + 250);

    // Let every observer run its expiry sweep again: a second announcement would show up now.
    const beats = observers.map((o) => o.discovery.stats.heartbeats);
    await waitFor(() => observers.every((o, i) => o.discovery.stats.heartbeats >= beats[i] + 3));
    const expiries = tap.messages
      .map((m) => JSON.parse(m))
      .filter((m) => m.type === 'NODE_DEREGISTERED');
    tap.close();
    expect(expiries).toEqual([
      expect.objectContaining({
        reason: 'expired',
        node: expect.objectContaining({ nodeId: 'victim' }),
      }),
    ]);
    for (const events of seen) {
      expect(events.filter((e) => e.type === 'NODE_DEREGISTERED')).toEqual([
        expect.objectContaining({ nodeId: 'victim', reason: 'expired' }),
      ]);
    }
  });

  it('resyncs and replays missed changes after its pub/sub connection is killed', async () => {
    const watcher = await node('watcher');
    const writer = await node('writer');
    const seen = record(watcher);
    await waitFor(() => watcher.discovery.isNodeActive('writer'));

    const killedAt = performance.now();
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub');
    // Published while the watcher's subscriber is reconnecting: pub/sub drops it for the watcher.
    await writer.discovery.updateMetadata({ missed: 'yes' });
    await waitFor(
      async () =>
        (await watcher.discovery.findNodesByService('default')).some(
          (n) => n.metadata.missed === 'yes',
        ),
      { timeout: HEARTBEAT + 250 },
    );
    expect(performance.now() - killedAt).toBeLessThanOrEqual(HEARTBEAT + 250);
    expect(seen).toContainEqual(
      expect.objectContaining({
        type: 'NODE_UPDATED',
        nodeId: 'writer',
        metadata: { missed: 'yes' },
      }),
    );
  });

  it('re-registers with the same node id after Redis restarts empty, and peers see it again', async () => {
    const a = await node('a');
    const b = await node('b');
    const seen = record(a);
    await waitFor(() => a.discovery.isNodeActive('b'));

    await redis.restart();
    await waitFor(async () => (await admin.hlen(`{${keyPrefix}}:nodes`).catch(() => 0)) === 2, {
      timeout: 10_000,
    });
    expect((await admin.hkeys(`{${keyPrefix}}:nodes`)).sort()).toEqual(['a', 'b']);
    await waitFor(() => seen.some((e) => e.type === 'NODE_REGISTERED' && e.nodeId === 'b'), {
      timeout: 5000,
    });
    expect(
      a.discovery.stats.reRegistrations + b.discovery.stats.reRegistrations,
    ).toBeGreaterThanOrEqual(2);
    expect(await b.discovery.isNodeActive('a')).toBe(true);
  });

  it('re-registers after FLUSHALL', async () => {
    const a = await node('a');
    await admin.flushall();
    // The record is in Redis as soon as the script ran; the node counts it when the reply comes.
    await waitFor(
      async () =>
        (await admin.hexists(`{${keyPrefix}}:nodes`, 'a')) === 1 &&
        a.discovery.stats.reRegistrations >= 1,
    );
    expect(a.discovery.stats.reRegistrations).toBe(1);
  });

  it('leaves no key and no later event when shutdown meets a stalled heartbeat', async () => {
    const observer = await node('observer');
    const a = await node('a');
    await waitFor(() => observer.discovery.isNodeActive('a'));
    const tap = await tapChannel();

    redis.pause();
    // The next heartbeat goes into the stalled server and waits there: no beat completes.
    await waitFor(() => (a.discovery.leaseStatus().lastHeartbeatAge ?? 0) > HEARTBEAT * 2);
    const closing = a.close();
    const resume = setTimeout(() => redis.resume(), HEARTBEAT);
    await closing;
    clearTimeout(resume);
    redis.resume();

    expect(await admin.hexists(`{${keyPrefix}}:nodes`, 'a')).toBe(0);
    expect(await admin.zscore(`{${keyPrefix}}:deadlines`, 'a')).toBeNull();
    const countAtClose = tap.messages.length;
    const observerBeats = observer.discovery.stats.heartbeats;
    await waitFor(() => observer.discovery.stats.heartbeats >= observerBeats + 3);
    expect(tap.messages.length).toBe(countAtClose);
    expect(await admin.hexists(`{${keyPrefix}}:nodes`, 'a')).toBe(0);
    tap.close();
  });

  it('skips and counts malformed channel messages and keeps working', async () => {
    const a = await node('a');
    const channel = `${keyPrefix}:events`;
    const garbage = [
      Buffer.from([0xff, 0xfe, 0x00, 0x80]).toString('latin1'),
      'not json',
      '{"type":"NODE_REGISTERED"}',
      JSON.stringify({ type: 'NODE_EXPLODED', epoch: 'x', version: 1, timestamp: 1, node: {} }),
      JSON.stringify({
        type: 'NODE_REGISTERED',
        epoch: 'x',
        version: 1,
        timestamp: 1,
        node: { nodeId: 'a b' },
      }),
      'x'.repeat(2 * 1024 * 1024),
      '[]',
      'null',
    ];
    for (const message of garbage) await admin.publish(channel, message);
    await waitFor(() => a.discovery.stats.malformedEvents === garbage.length);
    await node('b');
    await waitFor(() => a.discovery.isNodeActive('b'));
  });

  it('skips and counts malformed records in Redis', async () => {
    const a = await node('a');
    await admin.hset(`{${keyPrefix}}:nodes`, 'junk', '{"nodeId":');
    await admin.zadd(`{${keyPrefix}}:deadlines`, Date.now() + 60_000, 'junk');
    const nodesNow = await a.discovery.getActiveNodes({ fresh: true });
    expect(nodesNow.map((n) => n.nodeId)).toEqual(['a']);
    expect(a.discovery.stats.malformedRecords).toBe(1);
  });

  it('keeps a node alive by Redis server time, whatever its own clock says', async () => {
    const realNow = Date.now;
    Date.now = () => realNow() + 3_600_000;
    let a: TestNode;
    try {
      a = await node('a');
    } finally {
      Date.now = realNow;
    }
    const [seconds, micros] = await admin.time();
    const serverNow = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const deadline = Number(await admin.zscore(`{${keyPrefix}}:deadlines`, 'a'));
    expect(deadline).toBeGreaterThan(serverNow);
    expect(deadline).toBeLessThanOrEqual(serverNow + TTL);
    const b = await node('b');
    await waitFor(() => b.discovery.isNodeActive('a'));
    expect(a!.discovery.leaseStatus().valid).toBe(true);
  });

  it('answers lookups from its view without a round trip, and reads Redis without KEYS or SCAN', async () => {
    const a = await node('a', {
      heartbeatInterval: 5000,
      heartbeatTTL: 15000,
      services: [{ name: 'api' }],
    });
    await admin.config('RESETSTAT');
    const processed = async () =>
      Number(/total_commands_processed:(\d+)/.exec(await admin.info('stats'))![1]);
    const before = await processed();
    for (let i = 0; i < 1000; i++) await a.discovery.findNodesByService('api');
    expect((await processed()) - before).toBeLessThan(10);

    for (let i = 0; i < 10; i++)
      await a.discovery.findNodesByService('api', undefined, { fresh: true });
    const commandstats = await admin.info('commandstats');
    expect(commandstats).not.toMatch(/cmdstat_(keys|scan):/);
  });

  it('writes no keys in client mode', async () => {
    await node('watcher', { clientMode: true });
    await node('other-namespace-writer', { keyPrefix: `${keyPrefix}-other` });
    expect(await admin.keys(`{${keyPrefix}}*`)).toEqual([]);
  });
});
