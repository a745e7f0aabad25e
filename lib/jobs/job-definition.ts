// A job as the runner uses it: its schedule and key, and the timings of each of its ticks (starting
// deadline, clock tolerance, failover grace) and of its records, the same on every node.
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import { jobKey } from '../storage/registry-keys.js';
import type { CatchupMode, JobRetryOptions, OverlapPolicy } from './distributed-job.interface.js';
import type { TickSchedule } from './tick-schedule.js';

/** A non-owner waits at most this many grace steps, however far down the ring it is. */
export const MAX_FAILOVER_STEPS = 3;
/** The default starting deadline is half the gap to the next tick, at most this (ms). */
export const DEFAULT_DEADLINE_CAP = 10_000;
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
  paused?: boolean;
  retry?: JobRetryOptions;
  pauseAfterFailures?: number;
  jitter?: number;
}

export interface JobDefinition {
  name: string;
  key: string;
  schedule: TickSchedule;
  /** The job's or the module's `startingDeadline`; undefined: per tick (`deadlineOf`). */
  startingDeadline: number | undefined;
  overlap: OverlapPolicy;
  catchupWindow: number;
  catchup: CatchupMode;
  /** ms (Redis time, from the tick) that Redis keeps a tick's record. The same for every tick. */
  retention: number;
  /** A @Timeout job's claim is refused while its last claim is younger than this (ms); else 0. */
  cooldown: number;
  /** The `paused` option: the job's state until a pause or resume sets one in Redis. */
  initiallyPaused: boolean;
  /** Attempts per run (1: no retry), and the wait before each retry (ms) after attempt n. */
  attempts: number;
  retryDelay(attempt: number): number;
  pauseAfterFailures: number;
  /** Runs the history keeps (`jobs.historyLimit`). */
  historyLimit: number;
  /**
   * ms a tick of a cron or interval job starts after it would without `jitter`: derived from the
   * job and the tick alone, so every node waits the same (0 without jitter).
   */
  jitterOf(tick: number): number;
  /** When `tick` is due, its jitter included: deadlines and failover grace count from here. */
  dueOf(tick: number): number;
  /**
   * ms after `tick` is due during which it may still start: the configured deadline, else half
   * the gap to the next tick, at most 10 s. For a cron it is also the clock tolerance: a claim
   * earlier than due minus this (Redis time) is refused.
   */
  deadlineOf(tick: number): number;
  /** ms a non-owner waits per rank before it claims `tick` itself. */
  graceOf(tick: number): number;
  /**
   * Redis time before which a claim of `tick` is refused as early (0: none): for a cron tick, due
   * minus its clock tolerance (the firing's wall clock is too far ahead); for an @Interval window,
   * its start minus a little (this node's Redis time was wrong: a step it has not seen yet).
   */
  notBeforeOf(tick: number): number;
}

/** An @Interval window may be claimed this much before it begins (ms, at most its deadline). */
const WINDOW_TOLERANCE = 100;

export function defineJob(
  name: string,
  schedule: TickSchedule,
  job: JobOptions,
  options: ResolvedDiscoveryOptions,
): JobDefinition {
  const configured = job.startingDeadline ?? options.jobs.startingDeadline;
  const catchupWindow = job.catchupWindow ?? 0;
  // Memo of the last tick's deadline: a claim asks for it several times.
  let memo: { tick: number; deadline: number } | undefined;
  const deadlineOf = (tick: number): number => {
    if (configured !== undefined) return configured;
    if (memo?.tick === tick) return memo.deadline;
    const gap = schedule.nextTick(tick) - tick;
    const deadline = Math.max(1, Math.min(Math.floor(gap / 2), DEFAULT_DEADLINE_CAP));
    memo = { tick, deadline };
    return deadline;
  };
  // The longest deadline any tick can have, for the records' retention (no gap measured).
  const longestDeadline =
    configured ??
    (schedule.period === undefined
      ? DEFAULT_DEADLINE_CAP
      : Math.max(1, Math.min(Math.floor(schedule.period / 2), DEFAULT_DEADLINE_CAP)));
  const dueOffset = schedule.period ?? 0;
  const key = jobKey(options.keyPrefix, options.serviceName, name);
  const jitter = schedule.kind === 'cron' || schedule.kind === 'interval' ? (job.jitter ?? 0) : 0;
  // Below the period of an interval, so a tick still starts inside its window.
  const spread = Math.min(jitter + 1, schedule.period ?? Infinity);
  const jitterOf = (tick: number) => (jitter > 0 ? fnv1a(`${key}\n${tick}`) % spread : 0);
  return {
    name,
    key,
    schedule,
    startingDeadline: configured,
    overlap: job.overlap ?? 'allow',
    catchupWindow,
    catchup: job.catchup ?? 'one',
    retention:
      dueOffset +
      jitter +
      Math.max(longestDeadline, catchupWindow) +
      Math.max(schedule.period ?? 0, RETENTION_MARGIN),
    cooldown: schedule.kind === 'timeout' ? schedule.period! : 0,
    initiallyPaused: job.paused === true,
    attempts: job.retry?.attempts ?? 1,
    retryDelay: (attempt) =>
      Math.min(
        24 * 60 * 60 * 1000,
        Math.round((job.retry?.backoff ?? 1000) * (job.retry?.factor ?? 2) ** (attempt - 1)),
      ),
    pauseAfterFailures: job.pauseAfterFailures ?? 0,
    historyLimit: options.jobs.historyLimit,
    jitterOf,
    dueOf: (tick) => schedule.dueAt(tick) + jitterOf(tick),
    deadlineOf,
    notBeforeOf: (tick) =>
      schedule.kind === 'cron'
        ? schedule.dueAt(tick) + jitterOf(tick) - deadlineOf(tick)
        : schedule.kind === 'interval'
          ? tick - Math.min(WINDOW_TOLERANCE, deadlineOf(tick))
          : 0,
    // Every failover step fits inside the deadline, so the last node's claim is still in time.
    graceOf: (tick) =>
      Math.max(
        1,
        Math.min(
          options.jobs.failoverGrace,
          Math.floor(deadlineOf(tick) / (MAX_FAILOVER_STEPS + 1)),
        ),
      ),
  };
}

/**
 * How long (ms from `serverNow`) a node of `rank` on the ring waits before it claims `tick`:
 * - a cron tick fired early by this node's clock (ahead of Redis time, by up to the tolerance)
 *   waits until it is due, so it starts on time; further ahead, the claim goes now and Redis
 *   refuses it as early;
 * - the owner claims then; the others `grace` per rank after it (after the end of the window for
 *   an @Interval tick, by when the owner has fired whatever its phase), never so late that the
 *   claim would miss the starting deadline;
 * - a @Timeout tick is claimed at once by any node: each node fires once, the owner maybe never.
 */
export function claimDelay(
  job: JobDefinition,
  tick: number,
  rank: number,
  serverNow: number,
): number {
  const { kind } = job.schedule;
  if (kind === 'timeout') return 0;
  const jitter = job.jitterOf(tick);
  const due = job.dueOf(tick);
  const deadline = job.deadlineOf(tick);
  const early = due - serverNow;
  let from = serverNow;
  if (kind === 'cron' && early > 0 && early <= deadline + jitter) from = due;
  // With jitter an interval tick starts no earlier than its window's start plus its jitter.
  if (kind === 'interval') from = Math.max(serverNow, tick + jitter);
  if (kind === 'interval' && rank > 0) from = Math.max(serverNow, due);
  if (rank === 0) return Math.max(0, from - serverNow);
  const grace = job.graceOf(tick);
  const at = from + Math.min(rank, MAX_FAILOVER_STEPS) * grace;
  const latest = due + deadline - Math.ceil(grace / 2);
  return Math.max(0, Math.min(at, Math.max(latest, from)) - serverNow);
}

/** FNV-1a of `text`: the same 32-bit number on every node. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193);
  return hash >>> 0;
}
