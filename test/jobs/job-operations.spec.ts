import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import {
  BackfillRangeError,
  DistributedJob,
  getJobContext,
  InvalidArgumentError,
  JobConflictError,
  UnknownJobError,
} from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

/** Direct-call jobs with short windows: each call after a window passed is a new tick. */
@Injectable()
class OperatedJobs {
  reports = 0;
  flaky = {
    failuresLeft: 0,
    spans: [] as Array<{ attempt: number; token: number; start: number; end: number }>,
  };
  failing = 0;

  @DistributedJob({ name: 'report', period: 100 })
  async report(): Promise<string> {
    this.reports += 1;
    return `report ${getJobContext()!.token}`;
  }

  @DistributedJob({ name: 'held', period: 100, paused: true })
  held(): string {
    return 'ran';
  }

  @DistributedJob({ name: 'flaky', period: 60_000, retry: { attempts: 3, backoff: 30, factor: 2 } })
  async flakyRun(): Promise<string> {
    const context = getJobContext()!;
    const start = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 20));
    this.flaky.spans.push({
      attempt: context.attempt,
      token: context.token,
      start,
      end: Date.now(),
    });
    if (this.flaky.failuresLeft-- > 0) throw new TypeError(`attempt ${context.attempt} failed`);
    return 'finally';
  }

  @DistributedJob({ name: 'failing', period: 100, pauseAfterFailures: 2 })
  fail(): void {
    this.failing += 1;
    throw new RangeError('always');
  }
}

const nextWindow = () => new Promise((resolve) => setTimeout(resolve, 110));

describe('operating jobs (one node, real Redis)', () => {
  let redis: RedisHandle;
  let prefix = 0;
  const nodes: TestNode[] = [];
  const start = async () => {
    const node = await startNode(
      {
        redis: redis.url,
        keyPrefix: `ops-${prefix++}`,
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
        poolSettleTime: 0,
        jobs: { historyLimit: 5 },
      },
      { providers: [OperatedJobs] },
    );
    nodes.push(node);
    return { node, jobs: node.app.get(OperatedJobs) };
  };

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('pause: calls are skipped as paused (counted here and for the cluster) until resume', async () => {
    const { node, jobs } = await start();
    expect(await jobs.report()).toMatch(/^report \d+$/);
    expect(await node.jobs.pause('report', { reason: 'deploy of the billing DB' })).toEqual({
      paused: true,
      wasPaused: false,
    });
    await nextWindow();
    expect(await jobs.report()).toBeUndefined();
    const paused = await node.jobs.describe('report');
    expect(paused).toMatchObject({
      paused: true,
      pauseReason: 'deploy of the billing DB',
      pausedBy: node.discovery.nodeId,
    });
    expect(paused.pausedAt).toBeInstanceOf(Date);
    expect(paused.totals.skipped.paused).toBe(1);
    expect(node.jobs.list().find((j) => j.name === 'report')!.skipped.paused).toBe(1);
    expect(await node.jobs.resume('report')).toEqual({ paused: false, wasPaused: true });
    await nextWindow();
    expect(await jobs.report()).toMatch(/^report \d+$/);
    expect(jobs.reports).toBe(2);
  });

  it('`paused: true` holds the job until resume(), which overrides the option', async () => {
    const { node, jobs } = await start();
    expect(jobs.held()).toBeInstanceOf(Promise);
    expect(await jobs.held()).toBeUndefined();
    expect((await node.jobs.describe('held')).paused).toBe(true);
    await node.jobs.resume('held');
    await nextWindow();
    expect(await jobs.held()).toBe('ran');
    expect((await node.jobs.describe('held')).paused).toBe(false);
  });

  it('trigger: runs now with a fencing token, records it, and is refused while paused', async () => {
    const { node, jobs } = await start();
    await jobs.report();
    const ran = await node.jobs.trigger('report');
    expect(ran).toMatchObject({ status: 'ran', outcome: 'ok', error: undefined });
    if (ran.status !== 'ran') throw new Error('not run');
    expect(ran.value).toBe(`report ${ran.token}`);
    const shown = await node.jobs.describe('report');
    expect(shown.runs[0]).toMatchObject({ kind: 'trigger', token: ran.token, outcome: 'ok' });
    expect(shown.runs[1]).toMatchObject({ kind: 'schedule' });
    expect(shown.runs[0].token).toBeGreaterThan(shown.runs[1].token);
    expect(shown.totals).toMatchObject({ runs: 2, ok: 2, triggered: 1 });
    await node.jobs.pause('report');
    expect(await node.jobs.trigger('report')).toEqual({
      status: 'refused',
      reason: 'paused',
      holder: node.discovery.nodeId,
    });
  });

  it('retry: two failures then a success are 3 attempts with one token, one after the other, each in the history', async () => {
    const { node, jobs } = await start();
    jobs.flaky.failuresLeft = 2;
    expect(await jobs.flakyRun()).toBe('finally');
    const spans = jobs.flaky.spans;
    expect(spans.map((s) => s.attempt)).toEqual([1, 2, 3]);
    expect(new Set(spans.map((s) => s.token)).size).toBe(1);
    // None overlaps the previous one, and each waited its backoff (30, then 60 ms).
    expect(spans[1].start).toBeGreaterThanOrEqual(spans[0].end + 29);
    expect(spans[2].start).toBeGreaterThanOrEqual(spans[1].end + 59);
    const { runs, totals } = await node.jobs.describe('flaky');
    expect(runs.map((r) => [r.attempt, r.outcome, r.error?.class])).toEqual([
      [3, 'ok', undefined],
      [2, 'error', 'TypeError'],
      [1, 'error', 'TypeError'],
    ]);
    expect(runs[2].error!.message).toBe('attempt 1 failed');
    expect(totals).toMatchObject({ runs: 1, retries: 2, ok: 1, error: 0 });
  });

  it('pauseAfterFailures: 2 failed runs in a row pause the job with the last error as the reason', async () => {
    const { node, jobs } = await start();
    await jobs.fail();
    await nextWindow();
    await jobs.fail();
    const shown = await node.jobs.describe('failing');
    expect(shown).toMatchObject({ paused: true, failuresInRow: 2 });
    expect(shown.pauseReason).toContain('RangeError: always');
    await nextWindow();
    await jobs.fail();
    expect(jobs.failing).toBe(2);
  });

  it('history is bounded by jobs.historyLimit', async () => {
    const { node, jobs } = await start();
    for (let i = 0; i < 7; i++) {
      await jobs.report();
      await nextWindow();
    }
    const { runs, totals } = await node.jobs.describe('report');
    expect(runs).toHaveLength(5);
    expect(totals.runs).toBe(jobs.reports);
    expect(runs.map((r) => r.tick)).toEqual([...runs.map((r) => r.tick)].sort((a, b) => b - a));
  });

  describe('runtime jobs', () => {
    it('add(): an interval job runs, shows in list() and describe() with its next fire times; remove() stops it', async () => {
      const { node } = await start();
      const ticks: number[] = [];
      node.jobs.add({ name: 'tenant-7', interval: 100 }, () => {
        ticks.push(getJobContext()!.tick.getTime());
      });
      await waitFor(() => ticks.length >= 3, { timeout: 3000 });
      expect(node.jobs.list().map((j) => j.name)).toContain('tenant-7');
      const shown = await node.jobs.describe('tenant-7');
      expect(shown).toMatchObject({ runtime: true, schedule: { kind: 'interval', period: 100 } });
      expect(shown.nextFireTimes).toHaveLength(10);
      expect(shown.nextFireTimes[1].getTime() - shown.nextFireTimes[0].getTime()).toBe(100);
      expect(node.jobs.remove('tenant-7')).toBe(true);
      const count = ticks.length;
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(ticks.length).toBeLessThanOrEqual(count + 1); // at most a run already claimed
      expect(node.jobs.remove('tenant-7')).toBe(false);
    });

    it('add() of a cron lists its occurrences; the same spec again is accepted, another one refused', async () => {
      const { node } = await start();
      const spec = { name: 'nightly', cron: '0 30 2 * * *', timeZone: 'Europe/Paris' };
      node.jobs.add(spec, () => undefined);
      node.jobs.add({ ...spec }, () => undefined);
      const shown = await node.jobs.describe('nightly');
      expect(shown.schedule.cron).toEqual({ expression: '0 30 2 * * *', timeZone: 'Europe/Paris' });
      expect(shown.nextFireTimes).toHaveLength(10);
      const error = (() => {
        try {
          node.jobs.add({ ...spec, cron: '0 0 3 * * *' }, () => undefined);
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(JobConflictError);
      expect(error).toMatchObject({ jobName: 'nightly' });
      expect((await node.jobs.describe('nightly')).schedule.cron!.expression).toBe('0 30 2 * * *');
      expect(() => node.jobs.add({ name: 'report', interval: 100 }, () => undefined)).toThrow(
        JobConflictError,
      );
      expect(() => node.jobs.remove('report')).toThrow(InvalidArgumentError);
    });

    it.each([
      [{ name: 'x' }, 'exactly one of cron or interval'],
      [{ name: 'x', cron: '* * * * * *', interval: 100 }, 'exactly one of cron or interval'],
      [{ name: 'x', interval: 0 }, 'interval must be'],
      [{ name: 'x', cron: 'not a cron' }, 'is not valid'],
      [{ name: 'x', cron: '* * * * *', timeZone: 'Mars/Olympus' }, 'Mars/Olympus'],
      [{ name: 'x', interval: 100, overlap: 'sometimes' }, 'overlap must be'],
      [{ name: 'x', interval: 100, retry: { attempts: 0 } }, 'retry.attempts'],
      [{ name: 'x', interval: 100, every: 5 }, 'unknown option every'],
      [{ name: '', interval: 100 }, 'name'],
    ])('add(%j) is refused with a typed error naming the field', async (spec, message) => {
      const { node } = await start();
      expect(() => node.jobs.add(spec as never, () => undefined)).toThrow(InvalidArgumentError);
      expect(() => node.jobs.add(spec as never, () => undefined)).toThrow(message);
      expect(node.jobs.list().map((j) => j.name)).not.toContain('x');
    });
  });

  it('backfill: runs the ticks of a past range once, oldest first; bad ranges are typed errors and claim nothing', async () => {
    const { node } = await start();
    const ticks: number[] = [];
    node.jobs.add({ name: 'bf', interval: 1000 }, () => {
      if (getJobContext()!.tick.getTime() < now - 1000) ticks.push(getJobContext()!.tick.getTime());
    });
    const now = Math.floor(node.discovery.serverNow() / 1000) * 1000;
    const backfill = (from: number, to: number, limit?: number) =>
      node.jobs.backfill('bf', { from: new Date(from), to: new Date(to), limit });
    await expect(backfill(now, now - 5000)).rejects.toThrow(/to .* must be after from/);
    await expect(backfill(now - 200_000, now)).rejects.toThrow(BackfillRangeError);
    await expect(backfill(now - 10_000, now, 5)).rejects.toThrow('more than 5 ticks');
    await expect(backfill(now - 10_000, now, 0)).rejects.toThrow('limit must be');
    await expect(node.jobs.backfill('report', { from: now - 5000, to: now })).rejects.toThrow(
      InvalidArgumentError,
    );
    await expect(node.jobs.backfill('nope', { from: now - 5000, to: now })).rejects.toThrow(
      UnknownJobError,
    );
    expect((await node.jobs.describe('bf')).totals.backfilled).toBe(0);
    const result = await backfill(now - 6000, now - 2000);
    expect(result.ran.map((r) => r.tick.getTime())).toEqual(
      [6, 5, 4, 3].map((s) => now - s * 1000),
    );
    expect(result.ran.every((r) => r.outcome === 'ok')).toBe(true);
    expect(ticks).toEqual([6, 5, 4, 3].map((s) => now - s * 1000));
    const again = await backfill(now - 6000, now - 2000);
    expect(again.ran).toEqual([]);
    expect(again.skipped.map((s) => s.reason)).toEqual([
      'recorded',
      'recorded',
      'recorded',
      'recorded',
    ]);
    const shown = await node.jobs.describe('bf');
    expect(shown.runs.filter((r) => r.kind === 'backfill')).toHaveLength(4);
    node.jobs.remove('bf');
  });

  it('an unknown job name is a typed error for every operation, and nothing is written', async () => {
    const { node } = await start();
    await expect(node.jobs.pause('nope')).rejects.toThrow(UnknownJobError);
    await expect(node.jobs.describe('nope')).rejects.toThrow(UnknownJobError);
    await expect(node.jobs.trigger('nope')).rejects.toThrow(UnknownJobError);
    await expect(node.jobs.pause('report', { reason: 'x'.repeat(501) })).rejects.toThrow(
      InvalidArgumentError,
    );
    expect((await node.jobs.describe('report')).paused).toBe(false);
  });
});
