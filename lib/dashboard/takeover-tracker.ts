// Per job, what the pool's recent runs say about its owner on the ring: whether another node ran
// a tick after the owner's last run (a stand-in: the owner missed it), and when that first was.
import type { JobRunRecord } from '../jobs/distributed-job.interface.js';

/** The first run of a job by another node than its owner, since the owner's last run. */
export interface StandIn {
  nodeId: string;
  tick: number;
  /** Redis time, ms. */
  startedAt: number;
}

interface Watch {
  owner: string | undefined;
  /** Runs count only for ticks after this (Redis time): the owner got the job, the pool settled. */
  since: number;
  ownerLastTick: number;
  standIn: StandIn | undefined;
}

export class TakeoverTracker {
  private readonly watches = new Map<string, Watch>();

  /**
   * Reads the newest runs of `job` (newest first) while the ring gives it to `owner`. While the
   * pool is not steady, views disagree on owners for a while: no run counts as a stand-in.
   */
  observe(
    job: string,
    owner: string | undefined,
    runs: readonly JobRunRecord[],
    steady: boolean,
    now: number,
  ): void {
    let watch = this.watches.get(job);
    if (!watch || watch.owner !== owner || !steady) {
      // The first look reads the whole window; after a change, only what came after it.
      const since = watch || !steady ? now : -Infinity;
      watch = { owner, since, ownerLastTick: -Infinity, standIn: undefined };
      this.watches.set(job, watch);
      if (!steady) return;
    }
    const claimed = runs.filter((run) => run.status === 'claimed' && run.tick > watch.since);
    for (const run of claimed) {
      if (run.nodeId === owner && run.tick > watch.ownerLastTick) watch.ownerLastTick = run.tick;
    }
    if (watch.standIn && watch.standIn.tick < watch.ownerLastTick) watch.standIn = undefined;
    if (watch.standIn || owner === undefined) return;
    // Oldest first: the first tick another node ran after the owner's last.
    const first = claimed
      .filter((run) => run.nodeId !== owner && run.tick > watch.ownerLastTick)
      .at(-1);
    if (first) {
      watch.standIn = { nodeId: first.nodeId, tick: first.tick, startedAt: first.startedAt };
    }
  }

  /** The stand-in of `job` while `owner` owned it, if another node ran its ticks. */
  standIn(job: string, owner: string | undefined): StandIn | undefined {
    const watch = this.watches.get(job);
    return watch && watch.owner === owner ? watch.standIn : undefined;
  }
}
