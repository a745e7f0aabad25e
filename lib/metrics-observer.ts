// The counters and gauges read when a metric reader collects (heartbeat failures, lease, nodes
// per service, events, resyncs, bad data, per-job runs and skips): nothing runs between reads.
import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { TELEMETRY } from './discovery.constants.js';
import { NodeMembership } from './discovery/membership/node-membership.service.js';
import { RegistrySync } from './discovery/view/registry-sync.service.js';
import type { JobSkips } from './jobs/distributed-job.interface.js';
import { DistributedJobs } from './jobs/distributed-jobs.service.js';
import type { Telemetry } from './common/telemetry/telemetry.js';
import type { ObservableCallbackLike, ObservableLike } from './common/telemetry/meter.interface.js';
import { ATTR, METRIC } from './common/telemetry/metric-names.js';

/** Skip reasons as attribute values (snake_case, as OpenTelemetry attribute values usually are). */
const SKIP_REASONS: Record<keyof JobSkips, string> = {
  claimedElsewhere: 'claimed_elsewhere',
  deadline: 'deadline_passed',
  overlap: 'overlap',
  redisError: 'redis_error',
  noLease: 'no_lease',
  stopping: 'stopping',
  clockSkew: 'clock_skew',
  dataLoss: 'data_loss',
  missed: 'missed',
  duplicate: 'duplicate_firing',
};

@Injectable()
export class MetricsObserver implements OnModuleInit, OnModuleDestroy {
  private readonly registered: Array<[ObservableLike, ObservableCallbackLike]> = [];

  constructor(
    @Inject(TELEMETRY) private readonly telemetry: Telemetry,
    private readonly membership: NodeMembership,
    private readonly sync: RegistrySync,
    private readonly jobs: DistributedJobs,
  ) {}

  onModuleInit(): void {
    const meter = this.telemetry.meter;
    if (!meter) return;
    const { stats } = this.telemetry;
    const pool = { [ATTR.pool]: this.membership.self.serviceName };
    const counter = (name: string, unit: string, description: string) =>
      meter.createObservableCounter(name, { unit, description });

    this.watch(
      counter(METRIC.heartbeatFailures, '{failure}', 'Heartbeats that failed or timed out'),
      (r) => r.observe(stats.heartbeatFailures, pool),
    );
    this.watch(
      meter.createObservableGauge(METRIC.leaseValid, {
        unit: '1',
        description: "1 while this node's lease is valid (registered, beats on time), else 0",
      }),
      (r) => r.observe(this.membership.leaseStatus().valid ? 1 : 0, pool),
    );
    this.watch(
      meter.createObservableGauge(METRIC.clockOffset, {
        unit: 's',
        description:
          "How far this node's wall clock (which fires @Cron) is ahead of Redis time (negative: behind)",
      }),
      (r) => {
        const offset = this.membership.clockOffset();
        if (offset !== undefined) r.observe(offset / 1000, pool);
      },
    );
    this.watch(
      meter.createObservableGauge(METRIC.serviceNodes, {
        unit: '{node}',
        description: "Live nodes offering each service, in this node's view",
      }),
      (r) => {
        for (const [service, size] of this.sync.view.serviceSizes()) {
          r.observe(size, { [ATTR.service]: service });
        }
      },
    );
    this.watch(
      counter(METRIC.eventsReceived, '{event}', 'Change events received on the channel'),
      (r) => r.observe(stats.eventsReceived),
    );
    this.watch(
      counter(METRIC.resyncs, '{resync}', 'Times the view was replaced from a snapshot'),
      (r) => r.observe(stats.resyncs),
    );
    this.watch(
      counter(METRIC.malformed, '{item}', 'Skipped messages and records (bad data or signature)'),
      (r) => {
        r.observe(stats.malformedEvents, { [ATTR.malformedSource]: 'event' });
        r.observe(stats.malformedRecords, { [ATTR.malformedSource]: 'record' });
        r.observe(stats.unverified, { [ATTR.malformedSource]: 'unverified' });
      },
    );
    this.watchJobs(counter);
  }

  onModuleDestroy(): void {
    for (const [instrument, callback] of this.registered) instrument.removeCallback(callback);
    this.registered.length = 0;
  }

  private watchJobs(
    counter: (name: string, unit: string, description: string) => ObservableLike,
  ): void {
    const perJob = (read: (job: ReturnType<DistributedJobs['list']>[number]) => number) =>
      ((r) => {
        for (const job of this.jobs.list()) r.observe(read(job), { [ATTR.job]: job.name });
      }) as ObservableCallbackLike;
    this.watch(
      counter(METRIC.jobRuns, '{run}', 'Ticks this node ran (catch-up runs included)'),
      perJob((job) => job.runs),
    );
    this.watch(
      counter(METRIC.jobErrors, '{run}', 'Runs on this node that threw'),
      perJob((job) => job.errors),
    );
    this.watch(
      counter(
        METRIC.jobFailovers,
        '{run}',
        'Ticks this node ran although another node owned the job on the ring',
      ),
      perJob((job) => job.failovers),
    );
    this.watch(
      counter(METRIC.jobSkips, '{tick}', 'Ticks this node did not run, by reason'),
      (r) => {
        for (const job of this.jobs.list()) {
          for (const [reason, value] of Object.entries(SKIP_REASONS)) {
            r.observe(job.skipped[reason as keyof JobSkips], {
              [ATTR.job]: job.name,
              [ATTR.skipReason]: value,
            });
          }
        }
      },
    );
  }

  private watch(instrument: ObservableLike, callback: ObservableCallbackLike): void {
    instrument.addCallback(callback);
    this.registered.push([instrument, callback]);
  }
}
