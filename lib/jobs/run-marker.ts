// The run marker of overlap policies other than `allow`, as this node keeps it in the job claim
// store: renewed while a run goes on (a marker taken over stops the run), released at its end.
import type { JobClaimStore, ReleaseResult } from '../storage/job-claim-store.interface.js';
import type { JobDefinition } from './job-definition.js';
import type { JobState } from './job-state.js';

export interface RunMarkerTiming {
  /** How often a running job renews its marker (ms). */
  heartbeatInterval: number;
  /** Lifetime of a marker (ms): a crashed runner's marker lapses with its lease. */
  heartbeatTTL: number;
}

export class RunMarker {
  constructor(
    private readonly claims: JobClaimStore,
    private readonly nodeId: string,
    private readonly timing: RunMarkerTiming,
  ) {}

  /**
   * Renews the marker `token` of `job` while its run goes on; `onTakenOver` runs when the marker
   * is no longer the run's (a newer tick with `cancelOther`, or it expired). Clear the timer at
   * the run's end. Redis unreachable: the lease decides (see NodeLease).
   */
  keep(job: JobDefinition, token: number, onTakenOver: () => void): NodeJS.Timeout {
    const { heartbeatInterval, heartbeatTTL } = this.timing;
    const every = Math.max(1, Math.min(heartbeatInterval, Math.floor(heartbeatTTL / 3)));
    return setInterval(() => {
      this.claims.renew({ jobKey: job.key, token, runLease: heartbeatTTL }).then(
        (held) => held || onTakenOver(),
        () => undefined,
      );
    }, every);
  }

  /** Ends the run of `token`; with `takeNext`, a tick that waited for it is claimed for this node. */
  release(job: JobState, token: number, takeNext: boolean): Promise<ReleaseResult> {
    return this.claims.release({
      jobKey: job.definition.key,
      token,
      nodeId: this.nodeId,
      runLease: this.timing.heartbeatTTL,
      retention: job.definition.retention,
      takeNext,
      tokenFloor: job.highestToken,
      initiallyPaused: job.definition.initiallyPaused,
    });
  }
}
