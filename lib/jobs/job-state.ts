// What this node knows and counted about one job: its definition, the newest tick it saw
// recorded, and its runs and skips, as `DistributedJobs.list()` reports them.
import type { JobSkips, JobStatus } from './distributed-job.interface.js';
import type { JobDefinition } from './job-definition.js';

export interface JobState {
  definition: JobDefinition;
  /** Newest tick this node knows to have a record in Redis (catch-up starts after it). */
  lastSeen: number | undefined;
  running: number;
  runs: number;
  catchups: number;
  /** Ticks this node ran although it was not the job's first rank on the ring when it claimed. */
  failovers: number;
  buffered: number;
  skipped: JobSkips;
  errors: number;
  lastRun: Date | undefined;
  lastStartDelay: number | undefined;
  lastDuration: number | undefined;
  lastToken: number | undefined;
  lastError: string | undefined;
}

export function newJobState(definition: JobDefinition): JobState {
  return {
    definition,
    lastSeen: undefined,
    running: 0,
    runs: 0,
    catchups: 0,
    failovers: 0,
    buffered: 0,
    skipped: {
      claimedElsewhere: 0,
      deadline: 0,
      overlap: 0,
      redisError: 0,
      noLease: 0,
      stopping: 0,
    },
    errors: 0,
    lastRun: undefined,
    lastStartDelay: undefined,
    lastDuration: undefined,
    lastToken: undefined,
    lastError: undefined,
  };
}

/** Notes that a tick has a record in Redis. */
export function sawTick(job: JobState, tick: number): void {
  job.lastSeen = Math.max(job.lastSeen ?? -Infinity, tick);
}

export function jobStatus(job: JobState, owner: string | undefined): JobStatus {
  const { definition, skipped } = job;
  return {
    name: definition.name,
    period: definition.schedule.period,
    schedule: definition.schedule.kind,
    startingDeadline: definition.startingDeadline,
    overlap: definition.overlap,
    catchupWindow: definition.catchupWindow,
    owner,
    running: job.running > 0,
    runs: job.runs,
    catchups: job.catchups,
    failovers: job.failovers,
    buffered: job.buffered,
    skips: Object.values(skipped).reduce((sum, n) => sum + n, 0),
    skipped: { ...skipped },
    errors: job.errors,
    lastRun: job.lastRun,
    lastStartDelay: job.lastStartDelay,
    lastDuration: job.lastDuration,
    lastToken: job.lastToken,
    lastError: job.lastError,
  };
}
