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
import { CronOccurrences, CronSearchError } from '../../lib/jobs/cron-occurrences.js';
import { resolveSchedule as resolve } from '../../lib/jobs/tick-schedule.js';

const resolveSchedule = (method: object, period: number | undefined) =>
  resolve('job', method, period);

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
  it('@Cron with seconds: a firing stands for the latest occurrence at or before it (wall clock), due at that instant', async () => {
    const schedule = await resolveSchedule(method('everyFiveSeconds'), undefined);
    expect(schedule).toMatchObject({ kind: 'cron', period: undefined, source: 'cron' });
    // Named by the wall clock of the firing: Redis time (the second argument) plays no part.
    for (const late of [0, 1, 250, 2400, 4990]) expect(schedule.tickAt(T + late, 0)).toBe(T);
    expect(schedule.tickAt(T + 5000, 0)).toBe(T + 5000);
    expect(schedule.dueAt(T)).toBe(T);
    expect(schedule.nextTick(T)).toBe(T + 5000);
    expect(schedule.ticksBetween(T - 20_000, T, 100)).toEqual([
      T - 20_000,
      T - 15_000,
      T - 10_000,
      T - 5000,
    ]);
    expect(schedule.ticksBetween(T - 20_000, T, 1)).toEqual([T - 5000]);
  });

  it('an irregular cron: each firing maps to its own occurrence whatever the gaps (1 s, 1 s, 28 s, 30 s)', () => {
    class Irregular {
      @Cron('0,1,2,30 * * * * *', { timeZone: 'UTC' })
      run(): void {}
    }
    const schedule = resolve('irregular', Irregular.prototype.run, undefined);
    const minute = Math.floor(T / 60_000) * 60_000;
    for (const second of [0, 1, 2, 30]) {
      expect(schedule.tickAt(minute + second * 1000 + 7, 0)).toBe(minute + second * 1000);
    }
    expect(schedule.tickAt(minute + 29_990, 0)).toBe(minute + 2000);
  });

  it('refuses `period` beside @Cron, and an expression that does not parse, naming the job and the expression', () => {
    class Both {
      @Cron('0 0 2 * * *')
      run(): void {}
    }
    expect(() => resolve('Both.run', Both.prototype.run, 86_400_000)).toThrow(
      new InvalidArgumentError(
        '@DistributedJob() Both.run: period (86400000) cannot be used with @Cron: the ticks of a cron are its occurrences; remove period (set startingDeadline for how late a tick may start)',
      ),
    );
    // At declaration, when @Cron is below @DistributedJob().
    expect(() => {
      class Declared {
        @DistributedJob({ period: 86_400_000 })
        @Cron('0 0 2 * * *')
        run(): void {}
      }
      return Declared;
    }).toThrow(/Declared.run: period \(86400000\) cannot be used with @Cron/);
    expect(() => {
      class Bad {
        @DistributedJob()
        @Cron('0 0 2 * * * * *')
        run(): void {}
      }
      return Bad;
    }).toThrow(
      new InvalidArgumentError(
        "@DistributedJob() Bad.run: @Cron expression '0 0 2 * * * * *' is not valid: Too many fields",
      ),
    );
    expect(() => {
      class Never {
        @DistributedJob()
        @Cron('0 0 0 30 2 *')
        run(): void {}
      }
      return Never;
    }).toThrow(/Never.run: @Cron expression '0 0 0 30 2 \*' never occurs/);
  });

  it('@Interval: every firing inside one window of Redis time stands for the same tick, whatever the phase', async () => {
    const schedule = await resolveSchedule(method('everySecond'), undefined);
    expect(schedule).toMatchObject({ kind: 'interval', period: 1000, source: 'interval' });
    const phases = [0, 1, 333, 500, 667, 999];
    expect(new Set(phases.map((phase) => schedule.tickAt(0, T + phase)))).toEqual(new Set([T]));
    expect(schedule.tickAt(0, T + 1000)).toBe(T + 1000);
    // Due when the window ends: by then every healthy node has fired in it.
    expect(schedule.dueAt(T)).toBe(T + 1000);
    expect(schedule.ticksBetween(T - 2500, T, 100)).toEqual([T - 2000, T - 1000]);
  });

  it('@Timeout: a window of the timeout, at least 60 s, claimed at once by any node (a cooldown of one window)', async () => {
    const schedule = await resolveSchedule(method('once'), undefined);
    expect(schedule).toMatchObject({ kind: 'timeout', period: 60_000, source: 'timeout' });
    expect(schedule.tickAt(0, T + 59_999)).toBe(Math.floor((T + 59_999) / 60_000) * 60_000);
    const job = defineJob('t', schedule, {}, validateOptions({}));
    expect(job.cooldown).toBe(60_000);
    expect(claimDelay(job, T, 2, T + 10)).toBe(0);
  });

  it('no schedule: direct calls share a window of `period` (default 1000 ms)', async () => {
    const byDefault = await resolveSchedule(method('plain'), undefined);
    expect(byDefault).toMatchObject({ kind: 'manual', period: 1000, source: 'default' });
    const minute = await resolveSchedule(method('plain'), 60_000);
    expect(minute).toMatchObject({ kind: 'manual', period: 60_000, source: 'option' });
    expect(minute.tickAt(0, T + 59_999)).toBe(T);
    expect(minute.dueAt(T)).toBe(T + 60_000);
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
    expect(second.deadlineOf(T)).toBe(500);
    expect(second.graceOf(T)).toBe(125);
    const minute = defineJob('b', await resolveSchedule(method('plain'), 60_000), {}, options);
    expect([minute.deadlineOf(T), minute.graceOf(T)]).toEqual([10_000, 1000]);
    const module = validateOptions({ jobs: { startingDeadline: 2000 } });
    expect(defineJob('c', second.schedule, {}, module).deadlineOf(T)).toBe(2000);
    expect(defineJob('d', second.schedule, { startingDeadline: 300 }, module).deadlineOf(T)).toBe(
      300,
    );
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
    expect([cron.deadlineOf(T), cron.graceOf(T)]).toEqual([2500, 625]);
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

  it('jitter: each tick starts after a delay of the job and tick alone (the same on every node), and its deadline counts from there', async () => {
    const cronSchedule = await resolveSchedule(method('everyFiveSeconds'), undefined);
    const cron = defineJob('c', cronSchedule, { jitter: 2000 }, options);
    const sameJobElsewhere = defineJob('c', cronSchedule, { jitter: 2000 }, options);
    const ticks = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => T + i * 5000);
    const jitters = ticks.map((tick) => cron.jitterOf(tick));
    expect(ticks.map((tick) => sameJobElsewhere.jitterOf(tick))).toEqual(jitters);
    expect(jitters.every((j) => j >= 0 && j <= 2000)).toBe(true);
    expect(new Set(jitters).size).toBeGreaterThan(4); // spread, not one delay
    expect(defineJob('other', cronSchedule, { jitter: 2000 }, options).jitterOf(T)).not.toBe(
      jitters[0],
    );
    for (const [i, tick] of ticks.entries()) {
      // The owner fired at the occurrence: it waits its jitter, then claims.
      expect(claimDelay(cron, tick, 0, tick)).toBe(jitters[i]);
      expect(cron.dueOf(tick)).toBe(tick + jitters[i]);
      // Clock tolerance and failover steps count from the delayed start.
      expect(cron.notBeforeOf(tick)).toBe(tick + jitters[i] - cron.deadlineOf(tick));
      expect(claimDelay(cron, tick, 1, tick)).toBe(jitters[i] + cron.graceOf(tick));
    }
    const interval = defineJob(
      'i',
      await resolveSchedule(method('everySecond'), undefined),
      { jitter: 5000 },
      options,
    );
    // Below the period: an interval tick still starts inside its window.
    const spread = [0, 1, 2, 3, 4, 5].map((i) => interval.jitterOf(T + i * 1000));
    expect(spread.every((j) => j >= 0 && j < 1000)).toBe(true);
    expect(claimDelay(interval, T, 0, T + 10)).toBe(Math.max(0, spread[0] - 10));
    expect(defineJob('i', interval.schedule, {}, options).jitterOf(T)).toBe(0);
    const apply = (jitter: unknown) => () =>
      DistributedJob({ jitter } as DistributedJobOptions)(Scheduled.prototype, 'plain', {
        value: () => undefined,
      });
    expect(apply(-1)).toThrow(InvalidArgumentError);
    expect(apply(1.5)).toThrow('jitter must be a whole number of ms');
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

describe('per-tick timing and bounded searches', () => {
  it('the default deadline is half the gap to the next occurrence, at most 10 s, the same on every node', () => {
    class Irregular {
      @Cron('0,1,2,30 * * * * *', { timeZone: 'UTC' })
      run(): void {}
    }
    const job = defineJob(
      'irregular',
      resolve('irregular', Irregular.prototype.run, undefined),
      {},
      validateOptions({}),
    );
    const minute = Math.floor(T / 60_000) * 60_000;
    expect([0, 1, 2, 30].map((s) => job.deadlineOf(minute + s * 1000))).toEqual([
      500, 500, 10_000, 10_000,
    ]);
    // A cron tick is not claimed before due minus its tolerance: a node ahead of Redis waits.
    expect(claimDelay(job, minute + 1000, 0, minute + 1000 - 300)).toBe(300);
    expect(claimDelay(job, minute + 1000, 0, minute + 1000 - 600)).toBe(0); // refused by Redis
  });

  it('a parser that goes backwards or never moves: every search ends, forward, within its bound', () => {
    const calls = { n: 0 };
    // Occurrences every 10 s, except that for an hour it answers an hour back (kelektiv/node-cron#881).
    const broken = new CronOccurrences((after) => {
      calls.n += 1;
      const next = (Math.floor(after / 10_000) + 1) * 10_000;
      return after >= T && after < T + 3_600_000 ? next - 3_600_000 : next;
    }, 'broken');
    const next = broken.next(T);
    expect(next).toBeGreaterThan(T);
    expect(next).toBeLessThanOrEqual(T + 3_600_000 + 10_000);
    expect(broken.lastCalls).toBeLessThan(40);
    expect(broken.latestAtOrBefore(T + 1_800_000)).toBeLessThanOrEqual(T + 1_800_000);
    const listed = broken.between(T - 60_000, T + 7_200_000, 1000);
    expect(listed).toEqual([...listed].sort((a, b) => a - b));
    expect(new Set(listed).size).toBe(listed.length);
    const stuck = new CronOccurrences(() => 0, 'stuck', { calls: 50, ms: 1000 });
    expect(() => stuck.next(T)).toThrow(CronSearchError);
    expect(stuck.lastCalls).toBeLessThanOrEqual(51);
  });
});
