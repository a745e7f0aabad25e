// Sends a node's claim of one tick to the store: signs it (`signingKey`), adds the missed ticks a
// catch-up may take, and overrides a blocking claim that turns out to be forged.
import { Logger } from '@nestjs/common';
import type { RecordSigner } from '../common/record-signer.js';
import type { ClaimResult, JobClaimStore } from '../storage/job-claim-store.interface.js';
import { MAX_CATCHUP, type JobDefinition } from './job-definition.js';

export class TickClaimer {
  private readonly logger = new Logger('DistributedJobs');

  constructor(
    private readonly claims: JobClaimStore,
    private readonly nodeId: string,
    private readonly signer: RecordSigner | undefined,
    /** Lifetime of a run marker (`heartbeatTTL`): a crashed runner's marker lapses with its lease. */
    private readonly runLease: number,
    private readonly onUnverified: () => void,
  ) {}

  /**
   * Claims `tick`. `lastSeen` is the newest tick this node knows to have a record: catch-up
   * candidates start after it, so a steady job sends none.
   */
  async claim(
    job: JobDefinition,
    tick: number,
    serverNow: number,
    lastSeen: number | undefined,
  ): Promise<ClaimResult> {
    const due = job.schedule.dueAt(tick);
    const deadline = job.deadlineOf(tick);
    const request = {
      jobKey: job.key,
      tick,
      nodeId: this.nodeId,
      signature: this.sign(job, tick),
      notAfter: due + deadline,
      // A cron tick is fired by the wall clock: Redis refuses it from a clock too far ahead.
      notBefore: job.schedule.kind === 'cron' ? due - deadline : 0,
      cooldown: job.cooldown,
      retention: job.retention,
      overlap: job.overlap,
      runLease: this.runLease,
      catchup: this.catchup(job, tick, serverNow, lastSeen),
    };
    const result = await this.claims.claim(request);
    if (result.status !== 'taken' || !this.signer) return result;
    // A cooldown refusal names the tick whose record holds the job (`result.tick`).
    if (this.signer.verify(`${job.key}\n${result.tick}`, result.signature)) return result;
    // A record nobody with the key wrote blocks the tick: forged by a writer without the key.
    this.onUnverified();
    this.logger.warn(
      `Job ${job.name}: the claim of this tick in Redis is not signed by a peer; overriding it`,
    );
    return this.claims.claim({ ...request, override: result.signature });
  }

  private catchup(
    job: JobDefinition,
    tick: number,
    serverNow: number,
    lastSeen: number | undefined,
  ): { window: number; ticks: Array<{ tick: number; signature: string }> } | undefined {
    if (job.catchupWindow <= 0) return undefined;
    const from = Math.max(serverNow - job.catchupWindow, (lastSeen ?? -Infinity) + 1);
    const limit = job.catchup === 'one' ? 1 : MAX_CATCHUP;
    const ticks = job.schedule.ticksBetween(from, tick, limit);
    if (ticks.length === 0) return undefined;
    return {
      window: job.catchupWindow,
      ticks: ticks.map((missed) => ({ tick: missed, signature: this.sign(job, missed) })),
    };
  }

  /** Signs the tick of the job, not the node: a tick that waited may be run by another node. */
  private sign(job: JobDefinition, tick: number): string {
    return this.signer?.sign(`${job.key}\n${tick}`) ?? '';
  }
}
