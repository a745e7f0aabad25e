// Runs `@DistributedJob()` ticks, one run per tick across the pool: when this node claims a tick
// and what the claim's answer means for it; the runs themselves are the JobRunner's.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { DiscoveryError, DuplicateJobNameError, LeaseLostError } from '../common/errors.js';
import type { RecordSigner } from '../common/record-signer.js';
import {
  DISCOVERY_OPTIONS,
  JOB_CLAIM_STORE,
  RECORD_SIGNER,
  TELEMETRY,
} from '../discovery.constants.js';
import { NodeMembership } from '../discovery/membership/node-membership.service.js';
import type { Telemetry } from '../common/telemetry/telemetry.js';
import { NodePool } from '../node-pool/node-pool.service.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import type { ClaimResult, JobClaimStore } from '../storage/job-claim-store.interface.js';
import type { JobRunRecord, JobSkips, JobStatus } from './distributed-job.interface.js';
import { claimDelay, defineJob, type JobOptions } from './job-definition.js';
import { JobRunner, type JobCall, type JobMethod } from './job-runner.js';
import { jobStatus, newJobState, sawTick, type JobState } from './job-state.js';
import { RunMarker } from './run-marker.js';
import { TickClaimer } from './tick-claimer.js';
import type { TickSchedule } from './tick-schedule.js';
import { errorMessage } from '../common/error-message.js';

/**
 * Every node fires every tick. The ring's owner claims it at once, the others after a grace per
 * rank, and Redis grants each tick to one claim, before its starting deadline. See README "Job
 * guarantees".
 */
@Injectable()
export class DistributedJobs {
  private readonly logger = new Logger('DistributedJobs');
  private readonly jobs = new Map<string, JobState>();
  private readonly claimer: TickClaimer;
  private readonly runner: JobRunner;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(JOB_CLAIM_STORE) private readonly claims: JobClaimStore,
    private readonly membership: NodeMembership,
    private readonly pool: NodePool,
    @Inject(RECORD_SIGNER) signer: RecordSigner | undefined,
    @Inject(TELEMETRY) telemetry: Telemetry,
  ) {
    this.claimer = new TickClaimer(claims, membership.nodeId, signer, options.heartbeatTTL, () =>
      telemetry.count('unverified'),
    );
    this.runner = new JobRunner(
      options,
      new RunMarker(claims, membership.nodeId, options),
      membership,
      telemetry,
    );
    membership.lease.onLost((reason) =>
      this.runner.abortAll(
        new LeaseLostError(`Node ${membership.nodeId} lost its lease (${reason}); runs must stop`),
      ),
    );
  }

  /** Declares a job; called by the explorer for every decorated method. @internal */
  register(name: string, schedule: TickSchedule, options: JobOptions = {}): void {
    if (this.jobs.has(name)) {
      throw new DuplicateJobNameError(
        `Two distributed jobs are named "${name}"; give one of them its own name: @DistributedJob('other-name')`,
      );
    }
    this.jobs.set(name, newJobState(defineJob(name, schedule, options, this.options)));
    this.pool.setJobNames([...this.jobs.keys()]);
  }

  list(): JobStatus[] {
    return [...this.jobs.values()].map((job) =>
      jobStatus(job, this.pool.getHost(job.definition.name)),
    );
  }

  /** The newest ticks of a job across the pool, as Redis recorded their claims (one round trip). */
  async recentRuns(name: string, limit = 20): Promise<JobRunRecord[]> {
    const records = await this.claims.recent(this.job(name).definition.key, limit);
    return records.map((r) => ({
      tick: r.tick,
      nodeId: r.nodeId,
      startedAt: r.at,
      delay: r.at - r.tick,
      token: r.token,
      status: r.status,
    }));
  }

  /** Runs one firing of a job through the claim protocol; called by the decorated method. @internal */
  async invoke(
    name: string,
    instance: object,
    method: JobMethod,
    args: unknown[],
  ): Promise<unknown> {
    const job = this.job(name);
    if (this.runner.isDraining || this.options.clientMode) return skip(job, 'stopping');
    const { definition } = job;
    const lease = this.membership.lease;
    let tick: number;
    let rank: number;
    let claim: ClaimResult;
    try {
      let serverNow = await this.membership.syncedServerNow();
      if (!lease.isValid()) return skip(job, 'noLease');
      tick = definition.schedule.tickAt(serverNow);
      rank = this.pool.rank(name);
      const wait = claimDelay(definition, tick, rank, serverNow);
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.runner.isDraining) return skip(job, 'stopping');
        if (!lease.isValid()) return skip(job, 'noLease');
        serverNow = this.membership.serverNow();
      }
      claim = await this.claimer.claim(definition, tick, serverNow, job.lastSeen);
    } catch (error) {
      this.logger.warn(
        `Job ${name}: tick skipped on this node, the claim failed: ${errorMessage(error)}`,
      );
      return skip(job, 'redisError');
    }
    if (claim.status !== 'late') sawTick(job, tick);
    switch (claim.status) {
      case 'taken':
        return skip(job, claim.takenAs === 'overlap' ? 'overlap' : 'claimedElsewhere');
      case 'late':
        return skip(job, 'deadline');
      case 'overlap':
        return skip(job, 'overlap');
      case 'buffered':
        job.buffered += 1;
        return undefined;
    }
    if (rank > 0) job.failovers += 1;
    const call: JobCall = { instance, method, args };
    const marker = definition.overlap === 'allow' ? undefined : claim.token;
    if (claim.cancelled !== undefined) this.runner.cancel(job, claim.cancelled, tick);
    if (!lease.isValid()) {
      // Stalled past the lease between the claim and now: peers may think this node gone.
      this.logger.warn(`Job ${name}: claimed a tick, but the lease ran out before it started`);
      if (marker !== undefined) this.runner.release(job, marker, call);
      return skip(job, 'noLease');
    }
    try {
      for (const missed of claim.catchup) {
        // With `allow` runs may overlap: missed ticks start beside this one, which stays on time.
        const run = this.runner.run(job, call, missed, true, marker);
        if (marker !== undefined) await run;
      }
      return await this.runner.run(job, call, claim, false, marker);
    } finally {
      if (marker !== undefined) this.runner.release(job, marker, call);
    }
  }

  /** Stops taking ticks and waits for running jobs, up to `jobs.drainTimeout`, then aborts them. @internal */
  drain(): Promise<void> {
    return this.runner.drain();
  }

  private job(name: string): JobState {
    const job = this.jobs.get(name);
    if (!job) throw new DiscoveryError(`Unknown distributed job ${name}`);
    return job;
  }
}

function skip(job: JobState, reason: keyof JobSkips): undefined {
  job.skipped[reason] += 1;
  return undefined;
}
