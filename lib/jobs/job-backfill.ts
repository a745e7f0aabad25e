// `backfill()`: the ticks of a past range that never ran, run on this node oldest first, each one
// claimed just before it runs (so a concurrent backfill or the schedule never runs it too).
import { BackfillRangeError, InvalidArgumentError } from '../common/errors.js';
import { ServerClock } from '../common/server-clock.js';
import type { JobClaimStore } from '../storage/job-claim-store.interface.js';
import type { BackfillOptions, BackfillResult } from './job-operations.interface.js';
import type { JobCall, JobRunner } from './job-runner.js';
import type { JobState } from './job-state.js';
import type { Grant, TickClaimer } from './tick-claimer.js';

export const DEFAULT_BACKFILL_LIMIT = 100;
export const MAX_BACKFILL_LIMIT = 1000;

export interface BackfillDeps {
  claims: JobClaimStore;
  nodeId: string;
  claimer: TickClaimer;
  runner: JobRunner;
}

/** The ticks of the range, checked (typed errors naming what is wrong; nothing claimed). */
export function backfillTicks(
  job: JobState,
  options: BackfillOptions,
  serverNow: number,
): number[] {
  const { name, schedule } = job.definition;
  const where = `backfill() ${name}`;
  if (schedule.kind !== 'cron' && schedule.kind !== 'interval') {
    throw new InvalidArgumentError(
      `${where}: only @Cron and @Interval jobs have ticks to backfill`,
    );
  }
  const instant = (value: unknown, field: string) => {
    const ms = value instanceof Date ? value.getTime() : value;
    if (typeof ms !== 'number' || !Number.isFinite(ms)) {
      throw new InvalidArgumentError(`${where}: ${field} must be a Date or ms`);
    }
    return ms;
  };
  const from = instant(options?.from, 'from');
  const to = Math.min(instant(options?.to, 'to'), serverNow);
  const limit = options.limit ?? DEFAULT_BACKFILL_LIMIT;
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_BACKFILL_LIMIT) {
    throw new InvalidArgumentError(
      `${where}: limit must be a whole number from 1 to ${MAX_BACKFILL_LIMIT}`,
    );
  }
  if (instant(options.to, 'to') <= from) {
    throw new InvalidArgumentError(
      `${where}: to (${new Date(instant(options.to, 'to')).toISOString()}) must be after from (${new Date(from).toISOString()})`,
    );
  }
  // Only ticks already due; one more than the limit tells a range that is too large.
  const ticks = schedule
    .ticksBetween(from, to, limit + 1)
    .filter((tick) => schedule.dueAt(tick) <= serverNow);
  if (ticks.length > limit) {
    throw new BackfillRangeError(
      name,
      `${where}: the range holds more than ${limit} ticks (limit); backfill a shorter one`,
    );
  }
  return ticks;
}

/** Runs the ticks of `ticks` that never ran, oldest first, on this node. */
export async function runBackfill(
  deps: BackfillDeps,
  job: JobState,
  call: JobCall,
  ticks: number[],
): Promise<BackfillResult> {
  const { definition } = job;
  const result: BackfillResult = { ran: [], skipped: [], stopped: undefined };
  let left = ticks;
  while (left.length > 0) {
    if (deps.runner.isDraining) return { ...result, stopped: 'stopping' };
    const sentAt = ServerClock.local();
    const claim = await deps.claims.backfill({
      jobKey: definition.key,
      nodeId: deps.nodeId,
      ticks: left.map((tick) => ({ tick, signature: deps.claimer.sign(definition.key, tick) })),
      requestId: deps.claimer.requestId(),
      tokenFloor: job.highestToken,
      initiallyPaused: definition.initiallyPaused,
      historyLimit: definition.historyLimit,
    });
    deps.claimer.observe(claim.serverTime, sentAt);
    result.skipped.push(
      ...claim.skipped.map((s) => ({ tick: new Date(s.tick), reason: s.reason })),
    );
    if (claim.status === 'paused') return { ...result, stopped: 'paused' };
    if (claim.status === 'unknown') {
      throw new BackfillRangeError(
        definition.name,
        `backfill() ${definition.name}: the history is full and begins at ${new Date(claim.oldestKnown!).toISOString()}; whether older ticks ran cannot be told (raise jobs.historyLimit, or backfill a later range)`,
      );
    }
    if (claim.status === 'none') return result;
    const tick = claim.tick!;
    const token = claim.token!;
    job.highestToken = Math.max(job.highestToken, token);
    left = left.filter((t) => t > tick);
    const grant: Grant = { tick, token, catchup: false, notAfter: Infinity, kind: 'backfill' };
    const refused = deps.runner.refusal(grant);
    if (refused === 'noLease' || refused === 'stopping') {
      await deps.claimer.giveBack(job, grant);
      return { ...result, stopped: refused };
    }
    const done = await deps.runner.run(job, call, grant, undefined).done;
    result.ran.push({ tick: new Date(tick), token, outcome: done.result?.outcome ?? 'aborted' });
  }
  return result;
}
