// Names, units and attribute keys of every instrument, in one place: they are a public interface
// (dashboards and alerts depend on them), documented in the README's Metrics table.
export const METER_NAME = 'nestjs-redis-discovery';

export const METRIC = {
  heartbeatDuration: 'discovery.heartbeat.duration',
  heartbeatFailures: 'discovery.heartbeat.failures',
  leaseValid: 'discovery.lease.valid',
  clockOffset: 'discovery.clock.offset',
  serviceNodes: 'discovery.service.nodes',
  eventsReceived: 'discovery.events.received',
  resyncs: 'discovery.view.resyncs',
  malformed: 'discovery.malformed',
  jobRuns: 'discovery.job.runs',
  jobSkips: 'discovery.job.skips',
  jobErrors: 'discovery.job.errors',
  jobFailovers: 'discovery.job.failovers',
  jobRetries: 'discovery.job.retries',
  jobFailuresInRow: 'discovery.job.fail_streak',
  jobPaused: 'discovery.job.paused',
  jobStartDelay: 'discovery.job.start_delay',
  jobDuration: 'discovery.job.duration',
} as const;

export const ATTR = {
  service: 'discovery.service.name',
  pool: 'discovery.pool.name',
  job: 'discovery.job.name',
  skipReason: 'discovery.job.skip.reason',
  malformedSource: 'discovery.malformed.source',
  /** OpenTelemetry's general attribute for what went wrong (the error's class name). */
  errorType: 'error.type',
} as const;

/** Seconds; from sub-millisecond Redis round trips to the longest sensible beat. */
export const HEARTBEAT_BUCKETS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5,
];

/** Seconds; start delays and run durations, from a millisecond to minutes. */
export const JOB_BUCKETS = [
  0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
];
