// The jobs of this module: `@DistributedJob()` methods declared and reported (`list()`,
// `recentRuns()`); their firings go to TickFiring, their runs to JobRunner.
import { Inject, Injectable } from '@nestjs/common';
import { DiscoveryError, DuplicateJobNameError, LeaseLostError } from '../common/errors.js';
import type { RecordSigner } from '../common/record-signer.js';
import { ServerClock } from '../common/server-clock.js';
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
import type { JobClaimStore } from '../storage/job-claim-store.interface.js';
import type { JobRunRecord, JobStatus } from './distributed-job.interface.js';
import { defineJob, type JobOptions } from './job-definition.js';
import { JobRunner, type JobMethod } from './job-runner.js';
import { jobStatus, newJobState, type JobState } from './job-state.js';
import { RunMarker } from './run-marker.js';
import { TickClaimer } from './tick-claimer.js';
import { TickFiring } from './tick-firing.js';
import type { TickSchedule } from './tick-schedule.js';

/**
 * Every node fires every tick. The ring's owner claims it at once, the others after a grace per
 * rank, and Redis grants each tick to one claim, before its starting deadline; with peers, the
 * grant is confirmed before it runs. See README "Job guarantees".
 */
@Injectable()
export class DistributedJobs {
  private readonly jobs = new Map<string, JobState>();
  private readonly runner: JobRunner;
  private readonly firing: TickFiring;

  /** @internal Built by Nest's injector. */
  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(JOB_CLAIM_STORE) private readonly claims: JobClaimStore,
    private readonly membership: NodeMembership,
    private readonly pool: NodePool,
    clock: ServerClock,
    @Inject(RECORD_SIGNER) signer: RecordSigner | undefined,
    @Inject(TELEMETRY) telemetry: Telemetry,
  ) {
    const { nodeId, lease } = membership;
    const runLease = options.heartbeatTTL;
    const claimer = new TickClaimer({ claims, nodeId, signer, clock, telemetry, runLease });
    const marker = new RunMarker(claims, nodeId, options);
    this.runner = new JobRunner({ options, marker, claimer, lease, clock, telemetry });
    this.firing = new TickFiring({
      claimer,
      runner: this.runner,
      pool,
      clock,
      lease,
      syncedServerNow: () => membership.syncedServerNow(),
      clockOffset: () => membership.clockOffset(),
      clientMode: options.clientMode,
    });
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

  /**
   * Each job's owner and failover runs, with none of `list()`'s schedule math (a cron's next tick
   * costs parser calls): what the cluster log follows every heartbeat. @internal
   */
  ownership(): Array<{ name: string; owner: string | undefined; failovers: number }> {
    return [...this.jobs.values()].map(({ definition, failovers }) => ({
      name: definition.name,
      owner: this.pool.getHost(definition.name),
      failovers,
    }));
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
  invoke(name: string, instance: object, method: JobMethod, args: unknown[]): Promise<unknown> {
    return this.firing.fire(this.job(name), { instance, method, args });
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
