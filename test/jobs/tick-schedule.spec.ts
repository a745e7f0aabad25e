import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Cron, Interval, Timeout } from '@nestjs/schedule';
import {
  DistributedJob,
  InvalidArgumentError,
  type DistributedJobOptions,
} from 'nestjs-redis-discovery';
import { validateOptions } from '../../lib/options/validate-options.js';
import { claimDelay, defineJob } from '../../lib/jobs/job-definition.js';
import { resolveSchedule } from '../../lib/jobs/tick-schedule.js';

class Scheduled {
  @Cron('*/5 * * * * *')
  everyFiveSeconds(): void {}

  @Interval(1000)
  everySecond(): void {}

  @Timeout(3000)
  once(): void {}

  plain(): void {}
}
const method = (name: keyof Scheduled) => Scheduled.prototype[name];
const T = 1_800_000_000_000; // a multiple of 5 s

describe('tick schedules', () => {
  it('@Cron with seconds: a firing stands for the nearest occurrence, due at that instant', async () => {
    const schedule = await resolveSchedule(method('everyFiveSeconds'), undefined);
    expect(schedule).toMatchObject({ kind: 'cron', period: 5000, source: 'cron' });
    // Nodes fire at the occurrence give or take their clock skew.
    for (const skew of [-2400, -250, 0, 1, 250, 2400]) expect(schedule.tickAt(T + skew)).toBe(T);
    expect(schedule.tickAt(T + 2600)).toBe(T + 5000);
    expect(schedule.dueAt(T)).toBe(T);
    expect(schedule.ticksBetween(T - 20_000, T, 100)).toEqual([
      T - 20_000,
      T - 15_000,
      T - 10_000,
      T - 5000,
    ]);
    expect(schedule.ticksBetween(T - 20_000, T, 1)).toEqual([T - 5000]);
  });

  it('@Interval: every firing inside one window of Redis time stands for the same tick, whatever the phase', async () => {
    const schedule = await resolveSchedule(method('everySecond'), undefined);
    expect(schedule).toMatchObject({ kind: 'interval', period: 1000, source: 'interval' });
    const phases = [0, 1, 333, 500, 667, 999];
    expect(new Set(phases.map((phase) => schedule.tickAt(T + phase)))).toEqual(new Set([T]));
    expect(schedule.tickAt(T + 1000)).toBe(T + 1000);
    // Due when the window ends: by then every healthy node has fired in it.
    expect(schedule.dueAt(T)).toBe(T + 1000);
    expect(schedule.ticksBetween(T - 2500, T, 100)).toEqual([T - 2000, T - 1000]);
  });

  it('@Timeout: one window of the timeout, like an interval', async () => {
    const schedule = await resolveSchedule(method('once'), undefined);
    expect(schedule).toMatchObject({ kind: 'interval', period: 3000, source: 'timeout' });
    expect(schedule.tickAt(T + 2999)).toBe(T);
  });

  it('no schedule: direct calls share a window of `period` (default 1000 ms)', async () => {
    const byDefault = await resolveSchedule(method('plain'), undefined);
    expect(byDefault).toMatchObject({ kind: 'manual', period: 1000, source: 'default' });
    const minute = await resolveSchedule(method('plain'), 60_000);
    expect(minute).toMatchObject({ kind: 'manual', period: 60_000, source: 'option' });
    expect(minute.tickAt(T + 59_999)).toBe(T);
    expect(minute.dueAt(T)).toBe(T + 60_000);
  });

  it('a `period` option beside @Cron keeps cron timing: the nearest multiple', async () => {
    const schedule = await resolveSchedule(method('everyFiveSeconds'), 5000);
    expect(schedule).toMatchObject({ kind: 'cron', period: 5000, source: 'option' });
    expect(schedule.tickAt(T - 1000)).toBe(T);
  });
});

describe('job timings', () => {
  const options = validateOptions({ jobs: { failoverGrace: 1000 } });

  it('defaults the starting deadline to half the period, at most 10 s, and fits every failover step in it', async () => {
    const second = defineJob(
      'a',
      await resolveSchedule(method('everySecond'), undefined),
      {},
      options,
    );
    expect(second).toMatchObject({ startingDeadline: 500, grace: 125, overlap: 'allow' });
    const minute = defineJob('b', await resolveSchedule(method('plain'), 60_000), {}, options);
    expect(minute).toMatchObject({ startingDeadline: 10_000, grace: 1000 });
    const module = validateOptions({ jobs: { startingDeadline: 2000 } });
    expect(defineJob('c', second.schedule, {}, module).startingDeadline).toBe(2000);
    expect(
      defineJob('d', second.schedule, { startingDeadline: 300 }, module).startingDeadline,
    ).toBe(300);
  });

  it('keeps tick records longer than any claim of them can be accepted', async () => {
    const interval = defineJob(
      'a',
      await resolveSchedule(method('everySecond'), undefined),
      {},
      options,
    );
    // due (end of window) + deadline, plus the margin
    expect(interval.retention).toBeGreaterThan(1000 + 500);
    const caughtUp = defineJob('b', interval.schedule, { catchupWindow: 60_000 }, options);
    expect(caughtUp.retention).toBeGreaterThan(1000 + 60_000);
  });

  it('the owner claims at once, the others a grace per rank after the firing (cron) or after the window (interval)', async () => {
    const cron = defineJob(
      'c',
      await resolveSchedule(method('everyFiveSeconds'), undefined),
      {},
      options,
    );
    expect(cron).toMatchObject({ startingDeadline: 2500, grace: 625 });
    expect(claimDelay(cron, T, 0, T + 10)).toBe(0);
    expect(claimDelay(cron, T, 1, T + 10)).toBe(625);
    expect(claimDelay(cron, T, 3, T + 10)).toBe(3 * 625);
    expect(claimDelay(cron, T, 9, T + 10)).toBe(3 * 625); // at most three steps

    const interval = defineJob(
      'i',
      await resolveSchedule(method('everySecond'), undefined),
      {},
      options,
    );
    // A node that fired at phase 100 waits for the end of the window, then its grace steps.
    expect(claimDelay(interval, T, 0, T + 100)).toBe(0);
    expect(claimDelay(interval, T, 1, T + 100)).toBe(900 + 125);
    expect(claimDelay(interval, T, 2, T + 900)).toBe(100 + 250);
  });

  it('never waits past the starting deadline: a late firing claims at once', async () => {
    const cron = defineJob(
      'c',
      await resolveSchedule(method('everyFiveSeconds'), undefined),
      {},
      options,
    );
    // Fired 2 s late (a skewed clock): 2500 - 313 margin leaves 187 ms, not 1250.
    expect(claimDelay(cron, T, 2, T + 2000)).toBe(2500 - 313 - 2000);
    expect(claimDelay(cron, T, 2, T + 2400)).toBe(0);
  });
});

describe('@DistributedJob() options', () => {
  const declare = (options: DistributedJobOptions) => () => {
    class Job {
      @DistributedJob({ name: 'j', ...options })
      run(): void {}
    }
    return Job;
  };

  it.each<[DistributedJobOptions, string]>([
    [{ period: 0 }, 'period must be a positive integer of ms'],
    [{ startingDeadline: 0 }, 'startingDeadline must be a whole number of ms from 1 to 86400000'],
    [{ startingDeadline: 1.5 }, 'startingDeadline must be a whole number of ms from 1 to 86400000'],
    [{ catchupWindow: -1 }, 'catchupWindow must be a whole number of ms from 0 to 86400000'],
    [
      { overlap: 'queue' as never },
      "overlap must be one of 'allow', 'skip', 'bufferOne', 'cancelOther'",
    ],
    [{ catchup: 'some' as never }, "catchup must be 'one' or 'all'"],
  ])('refuses %p when the class is declared', (options, message) => {
    expect(declare(options)).toThrow(new InvalidArgumentError(`@DistributedJob() j: ${message}`));
  });

  it('accepts every policy and a catch-up window', () => {
    for (const overlap of ['allow', 'skip', 'bufferOne', 'cancelOther'] as const) {
      expect(declare({ overlap, catchupWindow: 60_000, catchup: 'all' })).not.toThrow();
    }
  });
});
