import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { createHmac } from 'node:crypto';
import {
  killAllNodes,
  NodeProcess,
  type JobSpec,
  type NodeReport,
} from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { checkTicks, runSpans, tokenOrderViolations } from '../support/tick-checker.js';

const PERIOD = 1000;
const KEY = 'the-signing-key-of-the-cluster';
const EVERY_SECOND = '* * * * * *';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const reportsOf = (nodes: NodeProcess[]): NodeReport[] => nodes.flatMap((n) => n.reports);
const warnings = (nodes: NodeProcess[], text: string) =>
  reportsOf(nodes).filter((r) => r.event === 'log' && r.message?.includes(text));

/**
 * A writer with access to Redis but without `signingKey` attacks the job state of node processes
 * (test/fixtures/cluster-node.mjs): claims of future ticks written ahead (their times are public),
 * a run marker that never ends, a fencing token at the top of the range. Each test reads the
 * ledger of runs: the ticks still run, once each, and the nodes say what they disregarded.
 */
describe('forged job state, written to Redis by a writer without the key', () => {
  let redis: RedisHandle;
  let attacker: Redis;
  let namespace = 0;

  beforeAll(async () => {
    redis = await startRedis();
    attacker = new Redis(redis.url);
  });
  afterEach(async () => {
    await killAllNodes();
  });
  afterAll(async () => {
    attacker.disconnect();
    await redis.stop();
  });

  const cluster = async (jobs: JobSpec[], signingKey?: string) => {
    const keyPrefix = `forged-${namespace++}`;
    const nodes = await Promise.all(
      ['a', 'b'].map((nodeId) =>
        NodeProcess.start({
          discovery: {
            redis: redis.url,
            keyPrefix,
            nodeId,
            heartbeatInterval: 200,
            heartbeatTTL: 1000,
            ...(signingKey ? { signingKey } : {}),
          },
          jobs,
        }),
      ),
    );
    const jobKey = (name: string) => `${keyPrefix}:job:{default:${name}}`;
    return { nodes, jobKey };
  };
  const redisNow = async () => {
    const [seconds, micros] = await attacker.time();
    return Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
  };
  /** Rewrites `fields` of `key` every 50 ms until `until` (wall clock), as a persistent attacker. */
  const keepWriting = async (
    key: string,
    fields: () => Promise<Record<string, string>>,
    until: number,
  ) => {
    let writes = 0;
    while (Date.now() < until) {
      await attacker.hset(key, await fields());
      writes += 1;
      await sleep(50);
    }
    return writes;
  };

  it('claims of the coming ticks written ahead without a valid signature: every tick still runs, once', async () => {
    const job: JobSpec = { name: 'ahead', cron: EVERY_SECOND, durationMs: 20 };
    const { nodes, jobKey } = await cluster([job], KEY);
    const key = jobKey('ahead');
    const now = await redisNow();
    const first = Math.ceil(now / PERIOD) * PERIOD + PERIOD;
    const ticks = Array.from({ length: 8 }, (_, i) => first + i * PERIOD);
    // A genuine signature, of another tick: signatures bind the tick, so a replay does not verify.
    const genuineOfAnother = (tick: number) =>
      createHmac('sha256', KEY)
        .update(`${key}\n${tick - PERIOD}`)
        .digest('base64url');
    const forgeries = [
      (tick: number) => `claimed 1 attacker ${tick}`, // no signature at all
      (tick: number) => `claimed 1 attacker ${tick} bogus-signature`,
      (tick: number) => `claimed 1 attacker ${tick} ${genuineOfAnother(tick)}`,
      () => 'not a record at all',
    ];
    for (const [i, tick] of ticks.entries()) {
      await attacker.hset(key, `t:${tick}`, forgeries[i % forgeries.length](tick));
      await attacker.zadd(`${key}:ticks`, tick, String(tick));
    }
    await waitFor(async () => (await redisNow()) > ticks.at(-1)! + 1500, { timeout: 15_000 });
    for (const node of nodes) expect(await node.terminate()).toBe(0);

    const ledger = checkTicks(reportsOf(nodes), 'ahead', PERIOD, ticks[0], ticks.at(-1)!);
    expect(ledger).toMatchObject({ expected: 8, ran: 8, doubled: [], missed: [] });
    // Each forged record was overridden by the node that claimed its tick, and said so.
    expect(warnings(nodes, 'is not signed by a peer; overriding it').length).toBeGreaterThanOrEqual(
      8,
    );
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }, 40_000);

  it.each<[JobSpec['overlap']]>([['skip'], ['bufferOne']])(
    'a run marker that never ends (`run 1 runUntil 99999999999999`) on a %s job: ignored with a warning, the ticks keep running',
    async (overlap) => {
      const job: JobSpec = { name: `held-${overlap}`, cron: EVERY_SECOND, durationMs: 50, overlap };
      // No key: the marker is checked against the tick records, which needs none.
      const { nodes, jobKey } = await cluster([job]);
      const from = Date.now();
      const until = from + 6000;
      const writes = await keepWriting(
        jobKey(job.name),
        async () => ({ run: '1', runUntil: '99999999999999' }),
        until,
      );
      await sleep(1500);
      for (const node of nodes) expect(await node.terminate()).toBe(0);

      expect(writes).toBeGreaterThan(50);
      const ledger = checkTicks(reportsOf(nodes), job.name, PERIOD, from + PERIOD, until);
      expect(ledger.expected).toBeGreaterThanOrEqual(5);
      expect(ledger).toMatchObject({ doubled: [], missed: [] });
      expect(warnings(nodes, 'run marker no claim wrote; disregarded').length).toBeGreaterThan(0);
      for (const node of nodes) expect(node.problems()).toEqual([]);
    },
    30_000,
  );

  it('a run marker that looks like an old one, kept alive by the writer, on a skip job with a key: the ticks keep running', async () => {
    const job: JobSpec = {
      name: 'held-legacy',
      cron: EVERY_SECOND,
      durationMs: 50,
      overlap: 'skip',
    };
    const { nodes, jobKey } = await cluster([job], KEY);
    const from = Date.now();
    const until = from + 6000;
    // A token-only marker, with an end a lease could set: only the key can tell it is not genuine.
    await keepWriting(
      jobKey(job.name),
      async () => ({ run: '1', runUntil: String((await redisNow()) + 1000) }),
      until,
    );
    await sleep(1500);
    for (const node of nodes) expect(await node.terminate()).toBe(0);

    const ledger = checkTicks(reportsOf(nodes), job.name, PERIOD, from + PERIOD, until);
    expect(ledger.expected).toBeGreaterThanOrEqual(5);
    expect(ledger).toMatchObject({ doubled: [], missed: [] });
    expect(
      warnings(nodes, 'the run marker in Redis is not signed by a peer').length,
    ).toBeGreaterThan(0);
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }, 30_000);

  it('a fencing token forged at the top of the range: disregarded with a warning, tokens keep increasing', async () => {
    const job: JobSpec = { name: 'fenced', cron: EVERY_SECOND, durationMs: 20 };
    const { nodes, jobKey } = await cluster([job], KEY);
    const from = Date.now();
    const until = from + 6000;
    // 2^53 - 1: a token that cannot grow by one any more in a double.
    await keepWriting(jobKey(job.name), async () => ({ token: String(2 ** 53 - 1) }), until);
    await sleep(1500);
    for (const node of nodes) expect(await node.terminate()).toBe(0);

    const reports = reportsOf(nodes);
    const ledger = checkTicks(reports, 'fenced', PERIOD, from + PERIOD, until);
    expect(ledger).toMatchObject({ doubled: [], missed: [] });
    const runs = runSpans(reports, 'fenced');
    expect(runs.length).toBeGreaterThanOrEqual(6);
    expect(tokenOrderViolations(runs)).toEqual([]);
    // Strictly increasing, and still Redis milliseconds (the floor of a token), not the forgery.
    for (const run of runs) expect(Math.abs(run.token - run.start)).toBeLessThan(60_000);
    expect(warnings(nodes, 'fencing token no claim wrote; disregarded').length).toBeGreaterThan(0);
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }, 30_000);
});
