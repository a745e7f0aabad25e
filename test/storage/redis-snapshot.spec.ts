// The paged snapshot (HSCAN, then each page's deadlines and tags a round trip later) on a real
// Redis, with a real write landing between a page and its tags: no record may be handed over
// with another record's tag, or a view would keep it while its digest agrees with Redis.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { RedisRegistryStore } from '../../lib/storage/redis/redis-registry.store.js';
import { recordTag } from '../../lib/storage/registry-digest.js';
import { registryKeys } from '../../lib/storage/registry-keys.js';
import { startRedis, type RedisHandle } from '../support/redis-harness.js';

describe('registry snapshot pages', () => {
  let redis: RedisHandle;
  let writer: Redis;
  let reader: Redis;
  let namespace = 0;
  /** Runs before the n-th pipeline of `reader` is sent (1-based), once. */
  let beforeRound: { n: number; run: () => Promise<void> } | undefined;
  let rounds = 0;

  beforeAll(async () => {
    redis = await startRedis();
    writer = new Redis(redis.url);
    reader = new Redis(redis.url);
    // Only the timing is steered: the write is a real beat on another connection, sent before
    // the reader's next round trip leaves; Redis answers everything.
    const pipeline = reader.pipeline.bind(reader);
    reader.pipeline = ((...args: Parameters<Redis['pipeline']>) => {
      const batch = pipeline(...args);
      const exec = batch.exec.bind(batch);
      batch.exec = (async () => {
        rounds += 1;
        if (beforeRound?.n === rounds) await beforeRound.run();
        return exec();
      }) as typeof batch.exec;
      return batch;
    }) as Redis['pipeline'];
  });
  afterAll(async () => {
    writer.disconnect();
    reader.disconnect();
    await redis.stop();
  });

  const record = (nodeId: string, rev: string) =>
    JSON.stringify({
      nodeId,
      serviceName: 'api',
      address: `${nodeId}:1`,
      services: [{ name: 'api' }],
      metadata: { rev },
    });

  async function registry(ids: string[]) {
    const keys = registryKeys(`${redis.keyPrefix}snapshot-${namespace++}`, 'snapshot:events');
    const on = (client: Redis) =>
      new RedisRegistryStore({ client, ownsClient: false, keys, pubSubEnabled: false });
    const writes = on(writer);
    const beat = (nodeId: string, rev: string) => {
      const stored = record(nodeId, rev);
      return writes.beat({
        nodeId,
        instance: `${nodeId}-1`,
        record: stored,
        tag: recordTag(stored),
        pool: 'api',
        services: ['api'],
        ttl: 60_000,
      });
    };
    for (const id of ids) await beat(id, '1');
    return { beat, reads: on(reader) };
  }

  async function snapshot(reads: RedisRegistryStore) {
    const { serverTime } = await reads.version(); // loads the script the last round uses
    const pairs: Array<{ record: string; tag: string }> = [];
    rounds = 0;
    const state = await reads.snapshot(serverTime, (records, tags) =>
      records.forEach((r, i) => pairs.push({ record: r, tag: tags[i] })),
    );
    return { pairs, state };
  }

  it('pairs every record with its own tag when a record changes between its page and its tags', async () => {
    const { beat, reads } = await registry(['a', 'b', 'c']);
    // Round 1 scans the page (the old record of b); before round 2 reads the page's tags, b
    // writes a new record (and its owner field the new tag).
    beforeRound = { n: 2, run: async () => void (await beat('b', '2')) };
    const { pairs, state } = await snapshot(reads);
    beforeRound = undefined;

    const b = pairs.find((p) => JSON.parse(p.record).nodeId === 'b')!;
    expect(JSON.parse(b.record).metadata.rev).toBe('1'); // the race did happen: b's page is old
    for (const pair of pairs) expect(pair.tag).toBe(recordTag(pair.record));
    expect(pairs).toHaveLength(3);
    expect(state.version).toBe(4); // three registrations and b's update
  });

  it('hands the stored tags over when nothing changed during the read', async () => {
    const { reads } = await registry(['a', 'b']);
    const { pairs } = await snapshot(reads);
    expect(pairs.map((p) => JSON.parse(p.record).nodeId).sort()).toEqual(['a', 'b']);
    for (const pair of pairs) expect(pair.tag).toBe(recordTag(pair.record));
  });
});
