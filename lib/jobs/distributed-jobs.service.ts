// Runs `@DistributedJob()` ticks, one run per tick across the pool: when each node claims, what a
// claim's answer means for this node, and the runs it starts, renews, cancels and drains.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import {
  DiscoveryError,
  DuplicateJobNameError,
  LeaseLostError,
  RunCancelledError,
} from '../common/errors.js';
import { DISCOVERY_OPTIONS, REGISTRY_STORE } from '../discovery.constants.js';
import { ServiceDiscovery } from '../discovery/service-discovery.service.js';
import { NodePool } from '../node-pool/node-pool.service.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import type { ClaimResult, RegistryStore } from '../storage/registry-store.interface.js';
import type { JobRunRecord, JobSkips, JobStatus } from './distributed-job.interface.js';
import type { JobInvoker } from './job-binding.js';
import { jobContextStorage } from './job-context.js';
import { claimDelay, defineJob, type JobDefinition, type JobOptions } from './job-definition.js';
import { JobRun } from './job-run.js';
import { TickClaimer } from './tick-claimer.js';
import type { TickSchedule } from './tick-schedule.js';

type Method = (...args: unknown[]) => unknown;

interface JobState {
  definition: JobDefinition;
  /** Newest tick this node knows to have a record in Redis (catch-up starts after it). */
  lastSeen: number | undefined;
  running: number;
  runs: number;
  catchups: number;
  buffered: number;
  skipped: JobSkips;
  errors: number;
  lastRun: Date | undefined;
  lastStartDelay: number | undefined;
  lastDuration: number | undefined;
  lastToken: number | undefined;
  lastError: string | undefined;
}

interface ActiveRun {
  job: JobState;
  run: JobRun;
  /** Token of the run marker this run holds (overlap policies other than `allow`). */
  marker: number | undefined;
  done: Promise<unknown>;
}

/**
 * Every node fires every tick. The ring's owner claims it at once, the others after a grace per
 * rank, and Redis grants each tick to one claim, before its starting deadline. See README "Job
 * guarantees".
 */
@Injectable()
export class DistributedJobs implements JobInvoker {
  private readonly logger = new Logger('DistributedJobs');
  private readonly jobs = new Map<string, JobState>();
  private readonly running = new Set<ActiveRun>();
  /** Releases of run markers in flight: one may start a tick that waited, so drain waits for them. */
  private readonly releases = new Set<Promise<void>>();
  private readonly claimer: TickClaimer;
  private draining = false;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly discovery: ServiceDiscovery,
    private readonly pool: NodePool,
  ) {
    this.claimer = new TickClaimer(
      store,
      discovery.nodeId,
      discovery.signer,
      options.heartbeatTTL,
      () => (discovery.stats.unverified += 1),
    );
    discovery.onLeaseLost((reason) =>
      this.abortAll(
        new LeaseLostError(`Node ${discovery.nodeId} lost its lease (${reason}); runs must stop`),
      ),
    );
  }

  /** Declares a job; called by the explorer for every decorated method. */
  register(name: string, schedule: TickSchedule, options: JobOptions = {}): void {
    if (this.jobs.has(name)) {
      throw new DuplicateJobNameError(
        `Two distributed jobs are named "${name}"; give one of them its own name: @DistributedJob('other-name')`,
      );
    }
    this.jobs.set(name, {
      definition: defineJob(name, schedule, options, this.options),
      lastSeen: undefined,
      running: 0,
      runs: 0,
      catchups: 0,
      buffered: 0,
      skipped: {
        claimedElsewhere: 0,
        deadline: 0,
        overlap: 0,
        redisError: 0,
        noLease: 0,
        stopping: 0,
      },
      errors: 0,
      lastRun: undefined,
      lastStartDelay: undefined,
      lastDuration: undefined,
      lastToken: undefined,
      lastError: undefined,
    });
    this.pool.setJobNames([...this.jobs.keys()]);
  }

  list(): JobStatus[] {
    return [...this.jobs.values()].map(({ definition, skipped, ...job }) => ({
      name: definition.name,
      period: definition.schedule.period,
      schedule: definition.schedule.kind,
      startingDeadline: definition.startingDeadline,
      overlap: definition.overlap,
      catchupWindow: definition.catchupWindow,
      owner: this.pool.getHost(definition.name),
      running: job.running > 0,
      runs: job.runs,
      catchups: job.catchups,
      buffered: job.buffered,
      skips: Object.values(skipped).reduce((sum, n) => sum + n, 0),
      skipped: { ...skipped },
      errors: job.errors,
      lastRun: job.lastRun,
      lastStartDelay: job.lastStartDelay,
      lastDuration: job.lastDuration,
      lastToken: job.lastToken,
      lastError: job.lastError,
    }));
  }

  /** The newest ticks of a job across the pool, as Redis recorded their claims (one round trip). */
  async recentRuns(name: string, limit = 20): Promise<JobRunRecord[]> {
    const job = this.jobs.get(name);
    if (!job) throw new DiscoveryError(`Unknown distributed job ${name}`);
    const records = await this.store.recentClaims(job.definition.key, limit);
    return records.map((r) => ({
      tick: r.tick,
      nodeId: r.nodeId,
      startedAt: r.at,
      delay: r.at - r.tick,
      token: r.token,
      status: r.status,
    }));
  }

  async invoke(name: string, instance: object, method: Method, args: unknown[]): Promise<unknown> {
    const job = this.jobs.get(name);
    if (!job) throw new DiscoveryError(`Unknown distributed job ${name}`);
    if (this.draining || this.options.clientMode) return this.skip(job, 'stopping');
    const { definition } = job;
    const lease = this.discovery.lease;
    let tick: number;
    let claim: ClaimResult;
    try {
      let serverNow = await this.discovery.syncedServerNow();
      if (!lease.isValid()) return this.skip(job, 'noLease');
      tick = definition.schedule.tickAt(serverNow);
      const wait = claimDelay(definition, tick, this.pool.rank(name), serverNow);
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (this.draining) return this.skip(job, 'stopping');
        if (!lease.isValid()) return this.skip(job, 'noLease');
        serverNow = this.discovery.serverNow();
      }
      claim = await this.claimer.claim(definition, tick, serverNow, job.lastSeen);
    } catch (error) {
      this.logger.warn(
        `Job ${name}: tick skipped on this node, the claim failed: ${message(error)}`,
      );
      return this.skip(job, 'redisError');
    }
    if (claim.status !== 'late') job.lastSeen = Math.max(job.lastSeen ?? -Infinity, tick);
    switch (claim.status) {
      case 'taken':
        return this.skip(job, claim.takenAs === 'overlap' ? 'overlap' : 'claimedElsewhere');
      case 'late':
        return this.skip(job, 'deadline');
      case 'overlap':
        return this.skip(job, 'overlap');
      case 'buffered':
        job.buffered += 1;
        return undefined;
    }
    const marker = definition.overlap === 'allow' ? undefined : claim.token;
    if (claim.cancelled !== undefined) this.cancelRunsOf(job, claim.cancelled, tick);
    if (!lease.isValid()) {
      // Stalled past the lease between the claim and now: peers may think this node gone.
      this.logger.warn(`Job ${name}: claimed a tick, but the lease ran out before it started`);
      if (marker !== undefined) this.release(job, marker, instance, method, args);
      return this.skip(job, 'noLease');
    }
    try {
      if (marker === undefined) {
        // Runs may overlap: missed ticks start beside this one, so it still starts on time.
        for (const missed of claim.catchup) {
          void this.runTick(job, instance, method, args, missed, true, marker);
        }
      } else {
        for (const missed of claim.catchup) {
          await this.runTick(job, instance, method, args, missed, true, marker);
        }
      }
      return await this.runTick(job, instance, method, args, claim, false, marker);
    } finally {
      if (marker !== undefined) this.release(job, marker, instance, method, args);
    }
  }

  /** Stops taking ticks and waits for running jobs, up to `jobs.drainTimeout`, then aborts them. */
  async drain(): Promise<void> {
    this.draining = true;
    const pending = [...this.releases, ...[...this.running].map((active) => active.done)];
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.allSettled(pending).then(() => false),
      new Promise<boolean>(
        (resolve) => (timer = setTimeout(resolve, this.options.jobs.drainTimeout, true)),
      ),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      this.logger.warn(
        `Shutdown: ${this.running.size} job(s) still running after ${this.options.jobs.drainTimeout} ms; aborting`,
      );
      this.abortAll(new DiscoveryError('Shutdown drain timeout'));
    }
  }

  private async runTick(
    job: JobState,
    instance: object,
    method: Method,
    args: unknown[],
    claim: { tick: number; token: number },
    catchup: boolean,
    marker: number | undefined,
  ): Promise<unknown> {
    const { definition } = job;
    const run = new JobRun(definition.name, claim.tick, claim.token, catchup, this.discovery.lease);
    const startedAt = performance.now();
    job.running += 1;
    job.runs += 1;
    if (catchup) job.catchups += 1;
    job.lastRun = new Date();
    job.lastStartDelay = Math.round(this.discovery.serverNow() - claim.tick);
    job.lastToken = claim.token;
    const renewal = marker === undefined ? undefined : this.keepMarker(definition, marker, run);
    const done = jobContextStorage.run(run, async () => method.apply(instance, args));
    const active: ActiveRun = { job, run, marker, done };
    this.running.add(active);
    try {
      return await done;
    } catch (error) {
      job.errors += 1;
      job.lastError = message(error);
      this.logger.error(
        `Job ${definition.name} failed (tick ${run.tick.toISOString()}): ${message(error)}`,
      );
      return undefined;
    } finally {
      clearInterval(renewal);
      this.running.delete(active);
      job.running -= 1;
      job.lastDuration = Math.round(performance.now() - startedAt);
    }
  }

  /** Renews the run marker while the run goes on; a marker taken over cancels the run. */
  private keepMarker(definition: JobDefinition, marker: number, run: JobRun): NodeJS.Timeout {
    const { heartbeatInterval, heartbeatTTL } = this.options;
    const every = Math.max(1, Math.min(heartbeatInterval, Math.floor(heartbeatTTL / 3)));
    return setInterval(() => {
      this.store.renewRun(definition.key, marker, heartbeatTTL).then(
        (held) => {
          if (!held) {
            run.abort(
              new RunCancelledError(
                `Job ${definition.name}: another run took over (a newer tick with overlap 'cancelOther', or the run marker expired)`,
              ),
            );
          }
        },
        () => undefined, // Redis unreachable: the lease decides (see NodeLease)
      );
    }, every);
  }

  /** Ends a marker-holding run in the background; a tick that waited for it runs next, here. */
  private release(
    job: JobState,
    marker: number,
    instance: object,
    method: Method,
    args: unknown[],
  ): void {
    const releasing = this.releaseAndRunNext(job, marker, instance, method, args);
    this.releases.add(releasing);
    void releasing.finally(() => this.releases.delete(releasing));
  }

  private async releaseAndRunNext(
    job: JobState,
    marker: number,
    instance: object,
    method: Method,
    args: unknown[],
  ): Promise<void> {
    const { definition } = job;
    let token = marker;
    for (;;) {
      let next;
      try {
        ({ next } = await this.store.releaseRun(
          definition.key,
          token,
          this.discovery.nodeId,
          this.options.heartbeatTTL,
          definition.retention,
          !this.draining && this.discovery.lease.isValid(),
        ));
      } catch (error) {
        this.logger.warn(`Job ${definition.name}: could not release its run: ${message(error)}`);
        return; // the marker lapses with its lease
      }
      if (!next) return;
      token = next.token;
      job.lastSeen = Math.max(job.lastSeen ?? -Infinity, next.tick);
      await this.runTick(job, instance, method, args, next, false, token);
    }
  }

  private cancelRunsOf(job: JobState, marker: number, tick: number): void {
    for (const active of this.running) {
      if (active.job === job && active.marker === marker) {
        active.run.abort(
          new RunCancelledError(
            `Job ${job.definition.name}: tick ${new Date(tick).toISOString()} started (overlap 'cancelOther')`,
          ),
        );
      }
    }
  }

  private skip(job: JobState, reason: keyof JobSkips): undefined {
    job.skipped[reason] += 1;
    return undefined;
  }

  private abortAll(reason: Error): void {
    for (const active of this.running) active.run.abort(reason);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
