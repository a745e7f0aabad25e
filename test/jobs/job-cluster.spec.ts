import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import {
  killAllNodes,
  NodeProcess,
  type JobSpec,
  type NodeReport,
} from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { checkTicks, innerWindow } from '../support/tick-checker.js';

const EVERY_SECOND = '* * * * * *';
const PERIOD = 1000;

/** Several nodes, each its own process, sharing jobs on a throw-away Redis. */
describe('distributed jobs across processes', () => {
  let redis: RedisHandle;
  let namespace = 0;
  let keyPrefix: string;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await killAllNodes();
  });
  afterAll(async () => {
    await redis.stop();
  });

  function start(
    nodeId: string,
    jobs: JobSpec[],
    extra: { clockShiftMs?: number } = {},
  ): Promise<NodeProcess> {
    return NodeProcess.start({
      discovery: {
        redis: redis.url,
        keyPrefix,
        nodeId,
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
      },
      jobs,
      ...extra,
    });
  }

  const allReports = (nodes: NodeProcess[]): NodeReport[] => nodes.flatMap((n) => n.reports);
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  /** Every tick of every job inside the run's window started exactly once, on some node. */
  function expectEveryTickOnce(
    nodes: NodeProcess[],
    jobs: JobSpec[],
    startedAt: number,
    stoppedAt: number,
  ): void {
    const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
    for (const job of jobs) {
      const { doubled, missed } = checkTicks(allReports(nodes), job.name, PERIOD, from, to);
      expect({ job: job.name, doubled, missed }).toEqual({
        job: job.name,
        doubled: [],
        missed: [],
      });
    }
  }

  function expectClean(nodes: NodeProcess[]): void {
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }

  it('the owner is SIGKILLed mid-job: no tick of its job is missed or doubled', async () => {
    keyPrefix = `cluster-kill-${namespace++}`;
    const jobs = [{ name: 'failover', cron: EVERY_SECOND, durationMs: 300 }];
    const nodes = [await start('n1', jobs), await start('n2', jobs), await start('n3', jobs)];
    await waitFor(() => allReports(nodes).filter((r) => r.event === 'done').length >= 3, {
      timeout: 10_000,
    });
    // Counted from here, when the job runs, whatever the startup took: the window holds the kill
    // and at least five ticks after it.
    const startedAt = Date.now();
    const latest = allReports(nodes)
      .filter((r) => r.event === 'run')
      .at(-1)!;
    const owner = nodes.find((n) => n.nodeId === latest.node)!;
    // Kill it while it runs a tick.
    await waitFor(
      () => owner.runs().length > owner.reports.filter((r) => r.event === 'done').length,
      { timeout: 5000 },
    );
    await owner.kill();
    const survivors = nodes.filter((n) => n !== owner);
    await sleep(9000);
    const stoppedAt = Date.now();

    const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
    const report = checkTicks(allReports(nodes), 'failover', PERIOD, from, to);
    expect({ doubled: report.doubled, missed: report.missed }).toEqual({ doubled: [], missed: [] });
    expect(report.expected).toBeGreaterThanOrEqual(5);
    expect(
      survivors.reduce((n, node) => n + node.runs().filter((r) => r.at > latest.at).length, 0),
    ).toBeGreaterThan(3);
    expectClean(survivors);
  });

  it('a node joins and one leaves: no tick missed or doubled', async () => {
    keyPrefix = `cluster-churn-${namespace++}`;
    const jobs = Array.from({ length: 5 }, (_, i) => ({ name: `churn-${i}`, cron: EVERY_SECOND }));
    const nodes = [await start('a', jobs), await start('b', jobs)];
    const startedAt = Date.now();
    await sleep(3000);
    nodes.push(await start('c', jobs));
    await sleep(3000);
    expect(await nodes[0].terminate()).toBe(0);
    await sleep(3000);
    const stoppedAt = Date.now();

    expectEveryTickOnce(nodes, jobs, startedAt, stoppedAt);
    expect(nodes[2].runs().length).toBeGreaterThan(0);
    expectClean(nodes);
  });

  it('a node whose clock is a quarter period off runs no tick twice and misses none', async () => {
    keyPrefix = `cluster-clock-${namespace++}`;
    const jobs = Array.from({ length: 5 }, (_, i) => ({ name: `skew-${i}`, cron: EVERY_SECOND }));
    const nodes = [
      await start('early', jobs, { clockShiftMs: 250 }),
      await start('late', jobs, { clockShiftMs: -250 }),
      await start('exact', jobs),
    ];
    const startedAt = Date.now();
    await sleep(8000);
    const stoppedAt = Date.now();

    expectEveryTickOnce(nodes, jobs, startedAt, stoppedAt);
    expect(nodes[0].runs().length).toBeGreaterThan(0);
    expectClean(nodes);
  });

  it('a node paused past its lease wakes to an aborted signal and runs no tick taken meanwhile', async () => {
    keyPrefix = `cluster-pause-${namespace++}`;
    const jobs = [{ name: 'long', cron: EVERY_SECOND, durationMs: 4000 }];
    const sleeper = await start('sleeper', jobs);
    const other = await start('other', jobs);
    const startedAt = Date.now();
    await waitFor(() => sleeper.runs().length > 0, { timeout: 10_000 });

    sleeper.signal('SIGSTOP');
    await sleep(3000);
    sleeper.signal('SIGCONT');
    await waitFor(() => sleeper.reports.some((r) => r.event === 'aborted'), { timeout: 5000 });
    await sleep(2000);
    const stoppedAt = Date.now();

    const [from, to] = innerWindow(startedAt, stoppedAt, PERIOD);
    const report = checkTicks(allReports([sleeper, other]), 'long', PERIOD, from, to);
    expect(report.doubled).toEqual([]);
    expect(report.missed).toEqual([]);
    // Tokens grow per job, whoever ran the tick.
    const runs = allReports([sleeper, other])
      .filter((r) => r.event === 'run')
      .sort((a, b) => a.tick! - b.tick!);
    expect(runs.map((r) => r.token)).toEqual([...runs.map((r) => r.token!)].sort((a, b) => a - b));
  });
});
