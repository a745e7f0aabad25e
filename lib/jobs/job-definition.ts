// A job as the runner uses it: its schedule and key, and the timings derived from its options
// (starting deadline, failover grace, how long Redis keeps its tick records).
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import { jobKey } from '../storage/registry-keys.js';
import type { CatchupMode, OverlapPolicy } from './distributed-job.interface.js';
import type { TickSchedule } from './tick-schedule.js';

/** A non-owner waits at most this many grace steps, however far down the ring it is. */
export const MAX_FAILOVER_STEPS = 3;
/** The default starting deadline is half the period, at most this (ms). */
const DEFAULT_DEADLINE_CAP = 10_000;
/**
 * Tick records outlive the deadline by at least this (ms): a claim is refused by the deadline
 * before its record is read, so dropping older records cannot admit a second run; the margin
 * covers a failover to a Redis whose clock is behind by up to this much.
 */
const RETENTION_MARGIN = 10_000;
/** At most this many missed ticks run in one catch-up (`catchup: 'all'`). */
export const MAX_CATCHUP = 100;

/** What the decorator declares about a job beyond its schedule. */
export interface JobOptions {
  startingDeadline?: number;
  overlap?: OverlapPolicy;
  catchupWindow?: number;
  catchup?: CatchupMode;
}

export interface JobDefinition {
  name: string;
  key: string;
  schedule: TickSchedule;
  /** ms after a tick is due during which it may still start. */
  startingDeadline: number;
  overlap: OverlapPolicy;
  catchupWindow: number;
  catchup: CatchupMode;
  /** ms a non-owner waits per rank before it claims a tick itself. */
  grace: number;
  /** ms (Redis time, from the tick) that Redis keeps a tick's record. */
  retention: number;
}

export function defineJob(
  name: string,
  schedule: TickSchedule,
  job: JobOptions,
  options: ResolvedDiscoveryOptions,
): JobDefinition {
  const startingDeadline =
    job.startingDeadline ??
    options.jobs.startingDeadline ??
    Math.max(1, Math.min(Math.floor(schedule.period / 2), DEFAULT_DEADLINE_CAP));
  const catchupWindow = job.catchupWindow ?? 0;
  // Every failover step fits inside the deadline, so the last node's claim is still in time.
  const grace = Math.max(
    1,
    Math.min(options.jobs.failoverGrace, Math.floor(startingDeadline / (MAX_FAILOVER_STEPS + 1))),
  );
  const dueOffset = schedule.dueAt(0);
  return {
    name,
    key: jobKey(options.keyPrefix, options.serviceName, name),
    schedule,
    startingDeadline,
    overlap: job.overlap ?? 'allow',
    catchupWindow,
    catchup: job.catchup ?? 'one',
    grace,
    retention:
      dueOffset +
      Math.max(startingDeadline, catchupWindow) +
      Math.max(schedule.period, RETENTION_MARGIN),
  };
}

/**
 * How long (ms from `serverNow`) a node of `rank` on the ring waits before it claims `tick`: the
 * owner claims at once; the others `grace` per rank after the firing (after the end of the window
 * for an @Interval tick, by when the owner has fired whatever its phase), and never so late that
 * the claim would miss the starting deadline.
 */
export function claimDelay(
  job: JobDefinition,
  tick: number,
  rank: number,
  serverNow: number,
): number {
  if (rank === 0) return 0;
  const due = job.schedule.dueAt(tick);
  const from = job.schedule.kind === 'interval' ? Math.max(serverNow, due) : serverNow;
  const at = from + Math.min(rank, MAX_FAILOVER_STEPS) * job.grace;
  const latest = due + job.startingDeadline - Math.ceil(job.grace / 2);
  return Math.max(0, Math.min(at, latest) - serverNow);
}
