import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Cron, Interval, ScheduleModule } from '@nestjs/schedule';
import {
  DiscoveryModule,
  DistributedJob,
  DistributedJobs,
  DuplicateJobNameError,
  getJobContext,
  type JobContext,
} from 'nestjs-redis-discovery';
import { Redis } from 'ioredis';
import { DISCOVERY_OPTIONS, type ResolvedDiscoveryOptions } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

@Injectable()
class Counter {
  readonly runs: JobContext[] = [];
}

@Injectable()
class StackedJobs {
  readonly seen: string[] = [];
  constructor(readonly counter: Counter) {}

  @DistributedJob()
  @Interval(100)
  below(): void {
    this.seen.push('below');
    this.counter.runs.push(getJobContext()!);
  }

  @Interval(100)
  @DistributedJob()
  above(): void {
    this.seen.push('above');
  }

  @DistributedJob('cron-job')
  @Cron('* * * * * *')
  everySecond(): void {
    this.seen.push('cron');
  }
}

@Injectable()
class DirectJobs {
  calls = 0;
  @DistributedJob({ period: 60_000 })
  async report(multiplier: number): Promise<number> {
    this.calls += 1;
    return 21 * multiplier;
  }

  @DistributedJob({ period: 100 })
  explode(): void {
    throw new Error('boom');
  }
}

@Injectable()
class SlowJob {
  finished = false;
  started = false;
  @DistributedJob({ period: 60_000 })
  async slow(): Promise<void> {
    this.started = true;
    await new Promise((resolve) => setTimeout(resolve, 300));
    this.finished = true;
  }
}

@Injectable()
class BusyJob {
  runs = 0;
  @Interval(50)
  @DistributedJob({ period: 50 })
  async busy(): Promise<void> {
    this.runs += 1;
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

@Injectable()
class Twin1 {
  @DistributedJob('same-name')
  run(): void {}
}
@Injectable()
class Twin2 {
  @DistributedJob('same-name')
  run(): void {}
}

const keyOf = (node: TestNode) =>
  node.app.get<ResolvedDiscoveryOptions>(DISCOVERY_OPTIONS).keyPrefix;

describe('@DistributedJob()', () => {
  let redis: RedisHandle;
  let prefix = 0;
  const nodes: TestNode[] = [];
  const options = () => ({
    redis: redis.url,
    keyPrefix: `jobs-${prefix++}`,
    heartbeatInterval: 200,
    heartbeatTTL: 1000,
    poolSettleTime: 0,
  });

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });
  afterAll(async () => {
    await redis.stop();
  });

  it('runs under and over @Interval and under @Cron, with `this` and injected fields', async () => {
    const node = await startNode(options(), {
      imports: [ScheduleModule.forRoot()],
      providers: [Counter, StackedJobs],
    });
    nodes.push(node);
    const jobs = node.app.get(StackedJobs);
    await waitFor(() => ['below', 'above', 'cron'].every((name) => jobs.seen.includes(name)), {
      timeout: 3000,
    });
    const context = jobs.counter.runs[0];
    expect(context.jobName).toBe('StackedJobs.below');
    expect(context.signal.aborted).toBe(false);
    expect(context.tick.getTime() % 100).toBe(0);
    expect(
      node.jobs
        .list()
        .map((j) => [j.name, j.period])
        .sort(),
    ).toEqual([
      ['StackedJobs.above', 100],
      ['StackedJobs.below', 100],
      ['cron-job', 1000],
    ]);
  });

  it('gives strictly increasing fencing tokens and one run per tick', async () => {
    const node = await startNode(options(), {
      imports: [ScheduleModule.forRoot()],
      providers: [Counter, StackedJobs],
    });
    nodes.push(node);
    const { runs } = node.app.get(Counter);
    await waitFor(() => runs.length >= 5, { timeout: 3000 });
    const tokens = runs.map((r) => r.token);
    const ticks = runs.map((r) => r.tick.getTime());
    expect([...tokens].sort((a, b) => a - b)).toEqual(tokens);
    expect(new Set(tokens).size).toBe(tokens.length);
    expect(new Set(ticks).size).toBe(ticks.length);
  });

  it('guards direct calls: the first call of a tick runs and returns, a second one is skipped', async () => {
    const node = await startNode(options(), { providers: [DirectJobs] });
    nodes.push(node);
    const jobs = node.app.get(DirectJobs);
    expect(await jobs.report(2)).toBe(42);
    expect(await jobs.report(2)).toBeUndefined();
    expect(jobs.calls).toBe(1);
    const status = node.jobs.list().find((j) => j.name === 'DirectJobs.report')!;
    expect(status).toMatchObject({
      runs: 1,
      skips: 1,
      errors: 0,
      running: false,
      owner: node.discovery.nodeId,
    });
    expect(status.lastRun).toBeInstanceOf(Date);
  });

  it('logs and counts a throwing job without rethrowing, and the job runs again next tick', async () => {
    const node = await startNode(options(), { providers: [DirectJobs] });
    nodes.push(node);
    const jobs = node.app.get(DirectJobs);
    await expect(jobs.explode()).resolves.toBeUndefined();
    const explode = () => node.jobs.list().find((j) => j.name === 'DirectJobs.explode')!;
    await waitFor(async () => {
      await jobs.explode();
      return explode().errors >= 2;
    });
    expect(explode().lastError).toBe('boom');
  });

  it('drains a running job on app.close() before deregistering', async () => {
    const node = await startNode(options(), { providers: [SlowJob] });
    const job = node.app.get(SlowJob);
    const running = job.slow();
    await waitFor(() => job.started);
    await node.close();
    expect(job.finished).toBe(true);
    await running;
    const admin = new Redis(redis.url);
    expect(await admin.hlen(`{${keyOf(node)}}:nodes`)).toBe(0);
    admin.disconnect();
  });

  it.each([
    ['DiscoveryModule', 'ScheduleModule'],
    ['ScheduleModule', 'DiscoveryModule'],
  ])(
    'closes quietly while a job drains and its timer keeps firing (%s imported before %s)',
    async (first) => {
      const errors: string[] = [];
      const discovery = DiscoveryModule.forRoot(options());
      const schedule = ScheduleModule.forRoot();
      @Module({
        imports: first === 'DiscoveryModule' ? [discovery, schedule] : [schedule, discovery],
        providers: [BusyJob],
      })
      class BusyModule {}
      const app = await NestFactory.createApplicationContext(BusyModule, {
        logger: {
          log() {},
          warn() {},
          error: (message: unknown) => errors.push(String(message)),
        },
      });
      await app.init();
      const job = app.get(BusyJob);
      await waitFor(() => job.runs > 0);
      await app.close(); // drains the running job while @Interval(50) fires on
      // A tick after shutdown is skipped, not an error.
      await expect(job.busy()).resolves.toBeUndefined();
      expect(errors).toEqual([]);
    },
  );

  it('fails at bootstrap when two jobs share a name', async () => {
    @Module({ imports: [DiscoveryModule.forRoot(options())], providers: [Twin1, Twin2] })
    class TwinModule {}
    // Nest 12 runs the init hooks inside createApplicationContext.
    const failure = await NestFactory.createApplicationContext(TwinModule, {
      logger: false,
      abortOnError: false,
    }).then(
      (app) => app.close(),
      (error: unknown) => error,
    );
    expect(failure).toBeInstanceOf(DuplicateJobNameError);
    expect((failure as Error).message).toBe(
      `Two distributed jobs are named "same-name"; give one of them its own name: @DistributedJob('other-name')`,
    );
  });

  it('runs every tick once in a single process with the in-memory registry', async () => {
    const node = await startNode(
      { keyPrefix: `memory-${prefix++}`, poolSettleTime: 0 },
      {
        imports: [ScheduleModule.forRoot()],
        providers: [Counter, StackedJobs],
      },
    );
    nodes.push(node);
    const { runs } = node.app.get(Counter);
    await waitFor(() => runs.length >= 5, { timeout: 3000 });
    const ticks = runs.map((r) => r.tick.getTime());
    expect(new Set(ticks).size).toBe(ticks.length);
    expect(
      node.app
        .get(DistributedJobs)
        .list()
        .find((j) => j.name === 'StackedJobs.below')?.errors,
    ).toBe(0);
  });

  it('rejects a direct call on an instance the module never bound', async () => {
    const loose = new DirectJobs();
    await expect(loose.report(1)).rejects.toThrow(/before DiscoveryModule bound it/);
  });
});
