// The ticks a node's timer never fired for (a busy event loop, an @Interval drifting past a
// window): claimed late while their deadline allows, else counted as missed, never silent.
import { Logger } from '@nestjs/common';
import type { JobState } from './job-state.js';

/** At most this many ticks between two firings are looked at (the rest are counted if known). */
export const MAX_UNFIRED = 100;
/** At most this many of them are claimed by one firing. */
const MAX_UNFIRED_CLAIMS = 10;

const logger = new Logger('DistributedJobs');

/**
 * A firing stood for `tick`, the one before it for `previous`. The ticks in between got no firing
 * from this node: those whose starting deadline has not passed are claimed now (`claim`), like a
 * normal firing, so a tick is never left unclaimed because this node's timer skipped it; the
 * others count as `skipped.missed` (another node may have run them).
 */
export function claimUnfired(
  job: JobState,
  previous: number,
  tick: number,
  serverNow: number,
  claim: (tick: number) => Promise<unknown>,
): void {
  const { schedule, name } = job.definition;
  if (schedule.kind !== 'cron' && schedule.kind !== 'interval') return;
  let ticks: number[];
  try {
    // The steady state: this firing's tick follows the previous one (no search, no parser call).
    if (schedule.nextTick(previous) >= tick) return;
    ticks = schedule.ticksBetween(previous + 1, tick, MAX_UNFIRED);
  } catch (error) {
    logger.error(`Job ${name}: could not list the ticks before this firing: ${String(error)}`);
    return;
  }
  // Windows are countable beyond the ones listed; a cron's are not, cheaply.
  let missed =
    schedule.period === undefined
      ? 0
      : Math.max(0, Math.round((tick - previous) / schedule.period) - 1 - ticks.length);
  if (schedule.period === undefined && ticks.length === MAX_UNFIRED) {
    logger.warn(
      `Job ${name}: more than ${MAX_UNFIRED} ticks passed without a firing on this node (was the event loop blocked?)`,
    );
  }
  let claims = 0;
  for (const unfired of ticks) {
    const due = schedule.dueAt(unfired);
    if (due > serverNow) continue; // not due by Redis time: this node's clock is ahead
    if (serverNow <= due + job.definition.deadlineOf(unfired) && claims < MAX_UNFIRED_CLAIMS) {
      claims += 1;
      // Its outcome is counted like any claim's; nothing to wait for here.
      void claim(unfired).catch((error: unknown) =>
        logger.error(`Job ${name}: claim of a tick without firing failed: ${String(error)}`),
      );
    } else {
      missed += 1;
    }
  }
  job.skipped.missed += missed;
}
