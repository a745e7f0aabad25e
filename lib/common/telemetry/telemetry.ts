// What this module counts and measures, in one place: the `stats` counters and the histograms
// recorded as things happen; without a meter the histograms are no-ops (one branch on hot paths).
import type { DiscoveryCounter, DiscoveryStats } from './discovery-stats.interface.js';
import type { HistogramLike, MeterLike } from './meter.interface.js';
import { ATTR, HEARTBEAT_BUCKETS, JOB_BUCKETS, METRIC } from './metric-names.js';

export class Telemetry {
  /** Read by `ServiceDiscovery.stats` and observed by the metrics: counted only through `count()`. */
  readonly stats: DiscoveryStats = {
    heartbeats: 0,
    heartbeatFailures: 0,
    reRegistrations: 0,
    resyncs: 0,
    eventsReceived: 0,
    rollbacks: 0,
    divergences: 0,
    malformedEvents: 0,
    malformedRecords: 0,
    unverified: 0,
    resyncsDeferred: 0,
    eventsDropped: 0,
    handlerErrors: 0,
    clockSteps: 0,
    clockOffset: undefined,
  };
  private readonly heartbeatDuration: HistogramLike | undefined;
  private readonly jobStartDelay: HistogramLike | undefined;
  private readonly jobDuration: HistogramLike | undefined;

  /** `meter`: undefined means metrics are off. */
  constructor(readonly meter: MeterLike | undefined) {
    this.heartbeatDuration = meter?.createHistogram(METRIC.heartbeatDuration, {
      description: 'Round trip of a successful heartbeat script, Redis included',
      unit: 's',
      advice: { explicitBucketBoundaries: HEARTBEAT_BUCKETS },
    });
    this.jobStartDelay = meter?.createHistogram(METRIC.jobStartDelay, {
      description: "Time from a job's scheduled tick to the start of its run (Redis time)",
      unit: 's',
      advice: { explicitBucketBoundaries: JOB_BUCKETS },
    });
    this.jobDuration = meter?.createHistogram(METRIC.jobDuration, {
      description: 'Duration of job runs on this node',
      unit: 's',
      advice: { explicitBucketBoundaries: JOB_BUCKETS },
    });
  }

  count(counter: DiscoveryCounter, by = 1): void {
    this.stats[counter] += by;
  }

  /** ms this node's wall clock is ahead of Redis time, measured at a heartbeat. */
  setClockOffset(ms: number | undefined): void {
    this.stats.clockOffset = ms;
  }

  /** A heartbeat succeeded after a round trip of `ms`. */
  heartbeat(ms: number): void {
    this.count('heartbeats');
    this.heartbeatDuration?.record(ms / 1000);
  }

  jobStarted(job: string, delayMs: number): void {
    this.jobStartDelay?.record(Math.max(0, delayMs) / 1000, { [ATTR.job]: job });
  }

  /** A run ended; `error` when it threw (recorded as its class name, never its message). */
  jobFinished(job: string, ms: number, error?: unknown): void {
    if (!this.jobDuration) return;
    const attributes: Record<string, string> = { [ATTR.job]: job };
    if (error !== undefined) attributes[ATTR.errorType] = errorType(error);
    this.jobDuration.record(ms / 1000, attributes);
  }
}

/** The error's class name; `_OTHER` (OpenTelemetry's fallback) for a thrown non-Error. */
function errorType(error: unknown): string {
  return error instanceof Error ? error.constructor.name || error.name : '_OTHER';
}
