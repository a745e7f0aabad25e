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
import { ThrottledWarning } from '../common/throttled-warning.js';
import { claimUnfired } from './unfired-ticks.js';

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
  private readonly clockWarnings = new WeakMap<JobState, ThrottledWarning>();

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
    const wallNow = Date.now();
    const serverNow = this.membership.serverNow();
    return [...this.jobs.values()].map((job) =>
      jobStatus(job, this.pool.getHost(job.definition.name), wallNow, serverNow),
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
    // The wall clock of the firing, read before any await: it names a cron's tick.
    const wallNow = Date.now();
    const job = this.job(name);
    if (this.runner.isDraining || this.options.clientMode) return skip(job, 'stopping');
    const call: JobCall = { instance, method, args };
    let serverNow: number;
    try {
      serverNow = await this.membership.syncedServerNow();
    } catch (error) {
      this.logger.warn(
        `Job ${name}: tick skipped on this node, Redis time unknown: ${errorMessage(error)}`,
      );
      return skip(job, 'redisError');
    }
    let tick: number;
    try {
      tick = job.definition.schedule.tickAt(wallNow, serverNow);
    } catch (error) {
      this.logger.error(
        `Job ${name}: could not tell which tick this firing stands for: ${errorMessage(error)}`,
      );
      return skip(job, 'missed');
    }
    // The timer fired again for the same tick (cron does, after a southern autumn DST change).
    if (tick === job.lastFired) return skip(job, 'duplicate');
    const previous = job.lastFired;
    job.lastFired = tick;
    if (previous !== undefined && tick > previous) {
      claimUnfired(job, previous, tick, serverNow, (missed) =>
        this.claimAndRun(job, call, missed, serverNow),
      );
    }
    return this.claimAndRun(job, call, tick, serverNow);
  }

  /** Claims `tick` (after this node's grace on the ring) and runs it if Redis grants it here. */
  private async claimAndRun(
    job: JobState,
    call: JobCall,
    tick: number,
    firedAt: number,
  ): Promise<unknown> {
    const { definition } = job;
    const { name } = definition;
    const lease = this.membership.lease;
    let rank: number;
    let claim: ClaimResult;
    try {
      if (!lease.isValid()) return skip(job, 'noLease');
      if (definition.schedule.kind === 'cron') this.checkClock(job, tick);
      rank = this.pool.rank(name);
      const wait = claimDelay(definition, tick, rank, firedAt);
      let serverNow = firedAt;
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
    if (claim.status !== 'late' && claim.status !== 'early') sawTick(job, tick);
    switch (claim.status) {
      case 'taken':
        return skip(job, claim.takenAs === 'overlap' ? 'overlap' : 'claimedElsewhere');
      case 'late':
        return skip(job, 'deadline');
      case 'early':
        return skip(job, 'clockSkew');
      case 'overlap':
        return skip(job, 'overlap');
      case 'buffered':
        job.buffered += 1;
        return undefined;
    }
    if (rank > 0) job.failovers += 1;
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

  /**
   * Warns (once a minute per job) when this node's wall clock, which fires the cron, is further
   * from Redis time than the tick tolerates: ahead, Redis refuses its claims as early; behind,
   * as late. Other nodes of the pool still run those ticks.
   */
  private checkClock(job: JobState, tick: number): void {
    const offset = this.membership.clockOffset();
    const tolerance = job.definition.deadlineOf(tick);
    if (offset === undefined || Math.abs(offset) <= tolerance) return;
    let warning = this.clockWarnings.get(job);
    if (!warning)
      this.clockWarnings.set(job, (warning = new ThrottledWarning(this.logger, 60_000)));
    warning.warn(
      `Job ${job.definition.name}: this node's wall clock is ${Math.abs(offset)} ms ` +
        `${offset > 0 ? 'ahead of' : 'behind'} Redis time, more than the ${tolerance} ms its ` +
        `cron ticks tolerate (startingDeadline); Redis refuses its claims as ` +
        `${offset > 0 ? 'early' : 'late'}. Fix the clock (NTP)`,
    );
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
