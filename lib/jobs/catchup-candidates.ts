// The missed ticks a claim may catch up: only ticks this node knows nobody ran, never past their
// own deadline plus the catch-up window, and none that could be claimed before Redis lost data.
import type { ClaimRequest } from '../storage/job-claim-store.interface.js';
import { MAX_CATCHUP } from './job-definition.js';
import type { JobState } from './job-state.js';

/** Catch-up candidates for a claim of `tick` (none: undefined); `sign` signs a tick's claim. */
export function catchupCandidates(
  job: JobState,
  tick: number,
  serverNow: number,
  sign: (tick: number) => string,
): ClaimRequest['catchup'] {
  const { definition } = job;
  // Only after this node saw the job's records since it started: a node that knows nothing of
  // them cannot tell a tick nobody ran from one whose record Redis lost (restore, failover).
  if (definition.catchupWindow <= 0 || job.lastSeen === undefined) return undefined;
  const from = Math.max(serverNow - definition.catchupWindow, job.lastSeen + 1);
  const limit = definition.catchup === 'one' ? 1 : MAX_CATCHUP;
  const ticks = definition.schedule
    .ticksBetween(from, tick, limit)
    .map((missed) => ({
      tick: missed,
      // Never past the tick's own deadline plus the window.
      notAfter: definition.dueOf(missed) + definition.deadlineOf(missed) + definition.catchupWindow,
      signature: sign(missed),
    }))
    .filter((candidate) => candidate.notAfter >= serverNow && !mayHaveRun(job, candidate.tick));
  if (ticks.length === 0) return undefined;
  return { window: definition.catchupWindow, ticks };
}

/**
 * Whether `tick` may have run although Redis has no record of it: it could be claimed before
 * this node found that Redis lost data (its record may have been lost with the rest).
 */
export function mayHaveRun(job: JobState, tick: number): boolean {
  return job.dataLostAt !== undefined && job.definition.notBeforeOf(tick) <= job.dataLostAt;
}
