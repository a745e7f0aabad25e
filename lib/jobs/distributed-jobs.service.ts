// The jobs of this module: `@DistributedJob()` methods declared and jobs added at runtime, reported
// (`list()`, `recentRuns()`, `describe()`) and operated (pause, resume, trigger); their firings go
// to TickFiring, their runs to JobRunner, the operations to JobOperations.
import { Inject, Injectable } from '@nestjs/common';
import {
  DuplicateJobNameError,
  InvalidArgumentError,
  JobConflictError,
  LeaseLostError,
  UnknownJobError,
} from '../common/errors.js';
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
import { JobOperations } from './job-operations.js';
import { backfillTicks, runBackfill } from './job-backfill.js';
import type {
  BackfillOptions,
  BackfillResult,
  JobDescription,
  PauseChange,
  PauseOptions,
  RuntimeJobSpec,
  TriggerOptions,
  TriggerResult,
} from './job-operations.interface.js';
import { JobRunner, type JobCall, type JobMethod } from './job-runner.js';
import { jobStatus, newJobState, type JobState } from './job-state.js';
import { runtimeJob, startTimer } from './runtime-jobs.js';
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
  private readonly operations: JobOperations;
  private readonly claimer: TickClaimer;

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
    this.claimer = claimer;
    const marker = new RunMarker(claims, nodeId, options);
    this.runner = new JobRunner({
      options,
      claims,
      marker,
      claimer,
      lease,
      clock,
      telemetry,
    });
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
    this.operations = new JobOperations({
      claims,
      nodeId,
      claimer,
      runner: this.runner,
      lease,
      clock,
      syncedServerNow: () => membership.syncedServerNow(),
      owner: (job) => pool.getHost(job),
      runLease,
      clientMode: options.clientMode,
    });
    membership.lease.onLost((reason) =>
      this.runner.abortAll(
        new LeaseLostError(`Node ${membership.nodeId} lost its lease (${reason}); runs must stop`),
      ),
    );
  }

  /** Declares a job; called by the explorer for every decorated method. @internal */
  register(name: string, schedule: TickSchedule, options: JobOptions = {}, call?: JobCall): void {
    if (this.jobs.has(name)) {
      throw new DuplicateJobNameError(
        `Two distributed jobs are named "${name}"; give one of them its own name: @DistributedJob('other-name')`,
      );
    }
    this.jobs.set(name, newJobState(defineJob(name, schedule, options, this.options), call));
    this.pool.setJobNames([...this.jobs.keys()]);
  }

  /**
   * Adds a job at runtime, with the guarantees of a decorated one (add it on every node that may
   * run it). Adding it again with the same spec only replaces its handler; with another schedule
   * or options it throws `JobConflictError` and changes nothing.
   */
  add(spec: RuntimeJobSpec, handler: () => unknown): void {
    if (typeof handler !== 'function') {
      throw new InvalidArgumentError(`add() ${spec?.name}: the handler must be a function`);
    }
    const { schedule, options, signature } = runtimeJob(spec);
    const call: JobCall = { instance: undefined, method: handler, args: [] };
    const existing = this.jobs.get(spec.name);
    if (existing) {
      if (existing.runtime?.signature !== signature) {
        throw new JobConflictError(
          spec.name,
          `add(): a job named "${spec.name}" exists with ${existing.runtime ? 'another schedule or options' : '@DistributedJob()'}; remove() it first or use another name`,
        );
      }
      existing.call = call;
      return;
    }
    const job = newJobState(defineJob(spec.name, schedule, options, this.options), call);
    const fire = () => void this.firing.fire(job, job.call!);
    job.runtime = { signature, stop: startTimer(schedule, fire) };
    this.jobs.set(spec.name, job);
    this.pool.setJobNames([...this.jobs.keys()]);
  }

  /** Removes a job added at runtime: its timer stops (a run going on finishes). False if none. */
  remove(name: string): boolean {
    const job = this.jobs.get(name);
    if (!job) return false;
    if (!job.runtime) {
      throw new InvalidArgumentError(
        `remove(): ${name} is a @DistributedJob() method, not added at runtime`,
      );
    }
    job.runtime.stop();
    this.jobs.delete(name);
    this.pool.setJobNames([...this.jobs.keys()]);
    return true;
  }

  /** Pauses a job for the whole cluster: no node runs its ticks until `resume()`. One round trip. */
  async pause(name: string, options?: PauseOptions): Promise<PauseChange> {
    return this.operations.setPaused(this.job(name), true, options);
  }

  /** Resumes a paused job (overriding its `paused: true` option for good). One round trip. */
  async resume(name: string): Promise<PauseChange> {
    return this.operations.setPaused(this.job(name), false);
  }

  /** A job's state, schedule, next fire times, history and cluster totals: one round trip. */
  async describe(name: string): Promise<JobDescription> {
    return this.operations.describe(this.job(name));
  }

  /**
   * Runs, on this node and oldest first, the ticks of a past range that never ran (an outage longer
   * than `catchupWindow`): each claimed once, however many nodes backfill it at once.
   */
  async backfill(name: string, options: BackfillOptions): Promise<BackfillResult> {
    const job = this.job(name);
    if (!job.call) {
      throw new InvalidArgumentError(`backfill(): job ${name} is not bound to an instance yet`);
    }
    const ticks = backfillTicks(job, options, await this.membership.syncedServerNow());
    const { claims, runner } = this;
    const deps = { claims, nodeId: this.membership.nodeId, claimer: this.claimer, runner };
    return runBackfill(deps, job, job.call, ticks);
  }

  /** Runs a job once now on this node, outside its schedule (see `TriggerResult`). */
  async trigger(name: string, options?: TriggerOptions): Promise<TriggerResult> {
    const job = this.job(name);
    if (!job.call) {
      throw new InvalidArgumentError(`trigger(): job ${name} is not bound to an instance yet`);
    }
    return this.operations.trigger(job, job.call, options);
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
    for (const job of this.jobs.values()) job.runtime?.stop();
    return this.runner.drain();
  }

  private job(name: string): JobState {
    const job = typeof name === 'string' ? this.jobs.get(name) : undefined;
    if (!job) throw new UnknownJobError(String(name));
    return job;
  }
}
