// The OpenTelemetry metrics as an SDK reads them: two nodes on a real Redis, a job that runs,
// fails and is skipped, garbage on the channel; every instrument is read through a MetricReader.
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Injectable } from '@nestjs/common';
import { Interval, ScheduleModule } from '@nestjs/schedule';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  MetricReader,
  type DataPoint,
  type Histogram,
  type MetricData,
} from '@opentelemetry/sdk-metrics';
import { Redis } from 'ioredis';
import { readFileSync } from 'node:fs';
import { DistributedJob, InvalidOptionError, getJobContext } from 'nestjs-redis-discovery';
import { startNode, type TestNode } from '../support/nest-node.js';
import { TcpProxy } from '../support/tcp-proxy.js';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

/** Reads on demand (`collect()`), as a Prometheus scrape would. */
class TestReader extends MetricReader {
  constructor() {
    super({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  }
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

@Injectable()
class TickJobs {
  @DistributedJob('tick')
  @Interval(300)
  tick(): void {}
}

@Injectable()
class ReportJobs {
  failNext = false;

  // Called by hand: each call is a tick of its 50 ms window.
  @DistributedJob({ name: 'report', period: 50 })
  async report(): Promise<void> {
    if (!getJobContext()) throw new Error('no job context');
    await new Promise((resolve) => setTimeout(resolve, 20));
    if (this.failNext) throw new TypeError('report failed');
  }
}

describe('OpenTelemetry metrics', () => {
  let redis: RedisHandle;
  let admin: Redis;
  const nodes: TestNode[] = [];
  let namespace = 0;

  beforeAll(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  });
  afterEach(async () => {
    await Promise.all(nodes.splice(0).map((n) => n.close()));
  });
  afterAll(async () => {
    admin.disconnect();
    await redis.stop();
  });

  async function node(
    nodeId: string,
    provider: MeterProvider | false | undefined,
    keyPrefix: string,
  ) {
    const started = await startNode(
      {
        redis: redis.url,
        nodeId,
        keyPrefix,
        serviceName: 'workers',
        services: [{ name: 'api', version: '1.0.0' }],
        heartbeatInterval: 200,
        heartbeatTTL: 1000,
        ...(provider === undefined ? {} : { meterProvider: provider }),
      },
      { providers: [ReportJobs] },
    );
    nodes.push(started);
    return started;
  }

  async function read(reader: TestReader): Promise<Map<string, MetricData>> {
    const { resourceMetrics, errors } = await reader.collect();
    expect(errors).toEqual([]);
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) {
      expect(scope.scope.name).toBe('nestjs-redis-discovery');
      for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    }
    return byName;
  }

  function point(
    metrics: Map<string, MetricData>,
    name: string,
    attributes: Record<string, string> = {},
  ): DataPoint<number | Histogram> | undefined {
    const metric = metrics.get(name);
    return metric?.dataPoints.find((p) =>
      Object.entries(attributes).every(([key, value]) => p.attributes[key] === value),
    ) as DataPoint<number | Histogram> | undefined;
  }

  function value(metrics: Map<string, MetricData>, name: string, attrs = {}): number | undefined {
    return point(metrics, name, attrs)?.value as number | undefined;
  }

  function histogram(metrics: Map<string, MetricData>, name: string, attrs = {}): Histogram {
    const metric = metrics.get(name)!;
    expect(metric.dataPointType).toBe(DataPointType.HISTOGRAM);
    return point(metrics, name, attrs)!.value as Histogram;
  }

  it('reports heartbeats, lease, nodes per service, events and bad data', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const keyPrefix = `metrics-${process.pid}-${namespace++}`;
    const a = await node('a', provider, keyPrefix);
    await node('b', false, keyPrefix);
    await waitFor(() => a.discovery.isNodeActive('b'));
    await admin.publish(`${keyPrefix}:events`, 'not json');
    await waitFor(
      () => a.discovery.stats.heartbeats >= 3 && a.discovery.stats.malformedEvents === 1,
    );

    const metrics = await read(reader);
    const beats = histogram(metrics, 'discovery.heartbeat.duration');
    expect(metrics.get('discovery.heartbeat.duration')!.descriptor.unit).toBe('s');
    expect(beats.count).toBe(a.discovery.stats.heartbeats);
    expect(beats.min).toBeGreaterThan(0);
    expect(beats.max).toBeLessThan(1); // seconds, not ms
    expect(value(metrics, 'discovery.heartbeat.failures')).toBe(0);
    expect(value(metrics, 'discovery.lease.valid', { 'discovery.pool.name': 'workers' })).toBe(1);
    expect(value(metrics, 'discovery.service.nodes', { 'discovery.service.name': 'api' })).toBe(2);
    expect(value(metrics, 'discovery.events.received')).toBe(a.discovery.stats.eventsReceived);
    expect(a.discovery.stats.eventsReceived).toBeGreaterThanOrEqual(1); // b's registration
    expect(value(metrics, 'discovery.malformed', { 'discovery.malformed.source': 'event' })).toBe(
      1,
    );
    expect(value(metrics, 'discovery.view.resyncs')).toBe(a.discovery.stats.resyncs);

    // After shutdown no callback reads the closed app: its lease has ended, so an observation
    // would read 0; the SDK only repeats the last point it was given.
    await a.close();
    expect(a.discovery.leaseStatus().valid).toBe(false);
    const after = await read(reader);
    expect(value(after, 'discovery.lease.valid')).toBe(1);
    await provider.shutdown();
  });

  it('reports job runs, start delay, duration with the error type, and a series per skip reason', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const keyPrefix = `metrics-${process.pid}-${namespace++}`;
    const a = await node('a', provider, keyPrefix);
    const jobs = a.app.get(ReportJobs);
    await jobs.report();
    // The next call falls in the next window, so it is a tick of its own.
    const next = (Math.floor(a.discovery.serverNow() / 50) + 1) * 50;
    await waitFor(() => a.discovery.serverNow() >= next);
    jobs.failNext = true;
    await jobs.report();

    const metrics = await read(reader);
    const job = { 'discovery.job.name': 'report' };
    expect(value(metrics, 'discovery.job.runs', job)).toBe(2);
    expect(value(metrics, 'discovery.job.errors', job)).toBe(1);
    // One series per outcome: the run that threw carries its error's class name.
    const [succeeded, failed] = ['', 'TypeError'].map((errorType) => {
      const series = metrics
        .get('discovery.job.duration')!
        .dataPoints.filter((p) => (p.attributes['error.type'] ?? '') === errorType);
      expect(series).toHaveLength(1);
      return series[0].value as Histogram;
    });
    expect([succeeded.count, failed.count]).toEqual([1, 1]);
    expect(Math.min(succeeded.min!, failed.min!)).toBeGreaterThanOrEqual(0.015);
    const delays = histogram(metrics, 'discovery.job.start_delay', job);
    expect(delays.count).toBe(2);
    expect(delays.max).toBeLessThan(1);
    const skips = metrics.get('discovery.job.skips')!.dataPoints;
    expect(new Set(skips.map((p) => p.attributes['discovery.job.skip.reason']))).toEqual(
      new Set([
        'claimed_elsewhere',
        'deadline_passed',
        'overlap',
        'redis_error',
        'no_lease',
        'stopping',
        'clock_skew',
        'data_loss',
        'missed',
        'duplicate_firing',
      ]),
    );
    expect(skips.every((p) => p.value === 0)).toBe(true);
    expect(value(metrics, 'discovery.job.failovers', job)).toBe(0);
    await provider.shutdown();
  });

  it('counts skips by reason and failovers as the owner is cut off from Redis', async () => {
    const keyPrefix = `metrics-${process.pid}-${namespace++}`;
    const members = await Promise.all(
      ['a', 'b'].map(async (nodeId) => {
        const reader = new TestReader();
        const provider = new MeterProvider({ readers: [reader] });
        const proxy = await TcpProxy.start(redis.port);
        const started = await startNode(
          {
            redis: `redis://127.0.0.1:${proxy.port}`,
            nodeId,
            keyPrefix,
            heartbeatInterval: 200,
            heartbeatTTL: 1000,
            meterProvider: provider,
          },
          { imports: [ScheduleModule.forRoot()], providers: [TickJobs] },
        );
        nodes.push(started);
        return { nodeId, started, reader, provider, proxy };
      }),
    );
    const [first] = members;
    await waitFor(() => first.started.pool.getNodes().length === 2);
    const owner = members.find((m) => m.nodeId === first.started.pool.getHost('tick'))!;
    const other = members.find((m) => m !== owner)!;
    const status = (m: typeof owner) => m.started.jobs.list()[0];
    await waitFor(() => status(other).skipped.claimedElsewhere >= 2);
    const skipsOf = (m: typeof owner) => status(m).skips;
    const ownerSkipsAtCut = skipsOf(owner);
    owner.proxy.cutConnections();
    await waitFor(() => status(other).failovers >= 2, { timeout: 5000 });
    // Back on Redis, the owner's claims that waited are answered: each a skip (taken by the other
    // node, or past its deadline).
    owner.proxy.restore();
    await waitFor(() => skipsOf(owner) > ownerSkipsAtCut, { timeout: 5000 });

    for (const member of [owner, other]) {
      const metrics = await read(member.reader);
      const job = { 'discovery.job.name': 'tick' };
      const now = status(member);
      // Counters are read after the status: they can only have grown since.
      expect(value(metrics, 'discovery.job.failovers', job)).toBeGreaterThanOrEqual(now.failovers);
      const reasons = {
        claimed_elsewhere: now.skipped.claimedElsewhere,
        deadline_passed: now.skipped.deadline,
        redis_error: now.skipped.redisError,
        no_lease: now.skipped.noLease,
      };
      for (const [reason, count] of Object.entries(reasons)) {
        const reported = value(metrics, 'discovery.job.skips', {
          ...job,
          'discovery.job.skip.reason': reason,
        });
        expect({ reason, atLeast: (reported ?? -1) >= count }).toEqual({ reason, atLeast: true });
      }
    }
    expect(status(other).failovers).toBeGreaterThanOrEqual(2);
    expect(status(other).skipped.claimedElsewhere).toBeGreaterThanOrEqual(2);
    for (const member of members) {
      await member.started.close();
      await member.proxy.close();
      await member.provider.shutdown();
    }
  });

  it('records nothing and creates no instrument with meterProvider: false', async () => {
    const reader = new TestReader();
    const provider = new MeterProvider({ readers: [reader] });
    const calls: string[] = [];
    const spy = {
      getMeter(name: string, version?: string) {
        calls.push(`${name}@${version}`);
        return provider.getMeter(name, version);
      },
    };
    await node('a', false, `metrics-${process.pid}-${namespace++}`);
    await node('b', spy as unknown as MeterProvider, `metrics-${process.pid}-${namespace++}`);
    const { version } = JSON.parse(
      readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
    ) as { version: string };
    expect(calls).toEqual([`nestjs-redis-discovery@${version}`]);
    await provider.shutdown();
  });

  it('refuses a meterProvider that is not one, naming the option', async () => {
    await expect(
      node(
        'a',
        { meter: true } as unknown as MeterProvider,
        `metrics-${process.pid}-${namespace++}`,
      ),
    ).rejects.toThrow(InvalidOptionError);
    await expect(
      node('a', 'otel' as unknown as MeterProvider, `metrics-${process.pid}-${namespace++}`),
    ).rejects.toThrow(/meterProvider must be an OpenTelemetry MeterProvider/);
  });
});
