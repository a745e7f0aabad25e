import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { killAllNodes, NodeProcess, type JobSpec } from '../support/node-process.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';
import { runSpans, tokenOrderViolations } from '../support/tick-checker.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Schedules as users write them, on node processes and a real Redis. */
describe('schedules people write, across processes', () => {
  let redis: RedisHandle;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await killAllNodes();
  });
  afterAll(async () => {
    await redis.stop();
  });

  const start = (keyPrefix: string, nodeId: string, jobs: JobSpec[], extra = {}) =>
    NodeProcess.start({
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

  it('an irregular seconds cron (gaps of 1 s and 28 s), nodes started at different phases: 0 missed, 0 doubled, tokens in claim order', async () => {
    const jobs = [{ name: 'irregular', cron: '0,1,2,30 * * * * *' }];
    const nodes = [await start('irregular', 'a', jobs)];
    const startedAt = Date.now();
    // The others start 7 s and 19 s later: in other gaps of the cron, whatever the minute.
    await sleep(7000);
    nodes.push(await start('irregular', 'b', jobs));
    await sleep(12_000);
    nodes.push(await start('irregular', 'c', jobs));
    await waitFor(() => Date.now() > startedAt + 75_000, { timeout: 90_000, interval: 500 });
    const stoppedAt = Date.now();

    const reports = nodes.flatMap((n) => n.reports);
    const runs = reports.filter((r) => r.event === 'run');
    const count = new Map<number, number>();
    for (const run of runs) count.set(run.tick!, (count.get(run.tick!) ?? 0) + 1);
    const expected: number[] = [];
    for (let s = Math.ceil((startedAt + 3000) / 1000); s * 1000 < stoppedAt - 3000; s++) {
      if ([0, 1, 2, 30].includes(s % 60)) expected.push(s * 1000);
    }
    expect(expected.length).toBeGreaterThanOrEqual(4);
    expect({
      missed: expected.filter((tick) => !count.has(tick)),
      doubled: [...count].filter(([, n]) => n > 1).map(([tick]) => tick),
      // Every run stands for an occurrence of the cron.
      offSchedule: runs.filter((r) => ![0, 1, 2, 30].includes((r.tick! / 1000) % 60)).length,
    }).toEqual({ missed: [], doubled: [], offSchedule: 0 });
    expect(tokenOrderViolations(runSpans(reports, 'irregular'))).toEqual([]);
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }, 120_000);

  it('one replica, @Interval(100), event loop busy at random for 2 minutes: every window ran once or was counted skipped', async () => {
    const jobs = [{ name: 'busy', interval: 100 }];
    const node = await NodeProcess.start({
      discovery: {
        redis: redis.url,
        keyPrefix: 'busy',
        nodeId: 'solo',
        heartbeatInterval: 500,
        heartbeatTTL: 5000,
      },
      jobs,
      busyMaxMs: 250,
      busyEveryMs: 400,
    });
    await sleep(120_000);
    expect(await node.terminate()).toBe(0);

    const ticks = node.runs('busy').map((r) => r.tick!);
    const unique = new Set(ticks);
    expect(unique.size).toBe(ticks.length); // none twice
    const first = Math.min(...ticks);
    const last = Math.max(...ticks);
    const windows = (last - first) / 100 + 1;
    const status = node.reports
      .find((r) => r.event === 'stopped')!
      .jobs!.find((j) => j.name === 'busy')!;
    const { missed, deadline, noLease, redisError, clockSkew } = status.skipped;
    const counted = missed + deadline + noLease + redisError + clockSkew;
    // Windows between the first and the last run that did not run were all counted as skipped.
    expect(windows - unique.size).toBeLessThanOrEqual(counted);
    expect(windows).toBeGreaterThan(1000);
    expect(node.problems()).toEqual([]);
    console.log(
      `busy @Interval(100): ${windows} windows, ${unique.size} ran, ${windows - unique.size} not run; skipped ${JSON.stringify(status.skipped)}`,
    );
  }, 180_000);
});
