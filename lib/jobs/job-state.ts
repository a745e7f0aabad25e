// What this node knows and counted about one job: its definition, the newest tick it saw
// recorded, and its runs and skips, as `DistributedJobs.list()` reports them.
import type { JobSkips, JobStatus } from './distributed-job.interface.js';
import type { JobDefinition } from './job-definition.js';

export interface JobState {
  definition: JobDefinition;
  /** Newest tick this node knows to have a record in Redis (catch-up starts after it). */
  lastSeen: number | undefined;
  /** The tick this node's latest firing stood for (to tell the ticks its timer never fired for). */
  lastFired: number | undefined;
  /** The highest fencing token this node saw granted (the floor of the next tokens). */
  highestToken: number;
  /**
   * Redis time at which this node last found Redis holding a lower token than it saw (Redis lost
   * data): ticks claimable before then may have run already, so it neither fails them over nor
   * catches them up.
   */
  dataLostAt: number | undefined;
  /** Grants this node gave back without running them (lease, shutdown, deadline). */
  givenBack: number;
  /** A difference in tick-record retention with another replica was logged. */
  warnedRetention: boolean;
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
    lastFired: undefined,
    highestToken: 0,
    dataLostAt: undefined,
    givenBack: 0,
    warnedRetention: false,
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
      clockSkew: 0,
      dataLoss: 0,
      missed: 0,
      duplicate: 0,
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

/** The job as `list()` reports it; `wallNow` / `serverNow` date its current tick. */
export function jobStatus(
  job: JobState,
  owner: string | undefined,
  wallNow: number,
  serverNow: number,
): JobStatus {
  const { definition, skipped } = job;
  const { schedule } = definition;
  let current: { period: number; next: number; deadline: number } | undefined;
  try {
    const tick = schedule.tickAt(wallNow, serverNow);
    const next = schedule.nextTick(tick);
    current = { period: next - tick, next, deadline: definition.deadlineOf(tick) };
  } catch {
    current = undefined; // a cron search that gave up: logged where ticks are claimed
  }
  return {
    name: definition.name,
    period: current?.period ?? 0,
    schedule: schedule.kind,
    cron: schedule.cron && { ...schedule.cron },
    nextTick: current && new Date(current.next),
    startingDeadline: definition.startingDeadline ?? current?.deadline ?? 0,
    overlap: definition.overlap,
    catchupWindow: definition.catchupWindow,
    owner,
    running: job.running > 0,
    runs: job.runs,
    catchups: job.catchups,
    failovers: job.failovers,
    buffered: job.buffered,
    givenBack: job.givenBack,
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
