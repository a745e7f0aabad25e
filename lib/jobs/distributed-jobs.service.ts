import { Inject, Injectable, Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { DiscoveryError, DuplicateJobNameError } from '../common/errors.js';
import { DISCOVERY_OPTIONS, REGISTRY_STORE } from '../discovery.constants.js';
import { ServiceDiscovery } from '../discovery/service-discovery.service.js';
import { NodePool } from '../node-pool/node-pool.service.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import { jobKey } from '../storage/registry-keys.js';
import type { ClaimResult, RegistryStore } from '../storage/registry-store.interface.js';
import type { JobContext, JobStatus } from './distributed-job.interface.js';
import type { JobInvoker } from './job-binding.js';
import { jobContextStorage } from './job-context.js';
import type { TickSchedule } from './tick-schedule.js';

/** Failover waits at most this many grace steps, however far down the ring a node is. */
const MAX_FAILOVER_STEPS = 3;

interface JobState {
  name: string;
  schedule: TickSchedule;
  key: string;
  /** Last tick this node computed: keeps a drifting timer from skipping a tick (see `tickFor`). */
  lastTick: number | undefined;
  running: number;
  runs: number;
  skips: number;
  errors: number;
  lastRun: Date | undefined;
  lastDuration: number | undefined;
  lastToken: number | undefined;
  lastError: string | undefined;
}

/**
 * Runs `@DistributedJob()` ticks: one run per tick across the pool. The ring's owner claims a
 * tick at once, the others after a grace per rank, so a crashed owner's tick still runs. Redis
 * decides the claim: a tick is claimed only if no equal or later tick was, and never run without it.
 */
@Injectable()
export class DistributedJobs implements JobInvoker {
  private readonly logger = new Logger('DistributedJobs');
  private readonly jobs = new Map<string, JobState>();
  private readonly running = new Set<{ done: Promise<unknown>; controller: AbortController }>();
  private draining = false;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly discovery: ServiceDiscovery,
    private readonly pool: NodePool,
  ) {
    discovery.onLeaseLost(() =>
      this.abortAll(
        new DiscoveryError(`Node ${discovery.nodeId} lost its lease; its claims may be taken over`),
      ),
    );
  }

  /** Declares a job; called by the explorer for every decorated method. */
  register(name: string, schedule: TickSchedule): void {
    if (this.jobs.has(name)) {
      throw new DuplicateJobNameError(
        `Two distributed jobs are named "${name}"; give one of them its own name: @DistributedJob('other-name')`,
      );
    }
    this.jobs.set(name, {
      name,
      schedule,
      key: jobKey(this.options.keyPrefix, this.options.serviceName, name),
      lastTick: undefined,
      running: 0,
      runs: 0,
      skips: 0,
      errors: 0,
      lastRun: undefined,
      lastDuration: undefined,
      lastToken: undefined,
      lastError: undefined,
    });
    this.pool.setJobNames([...this.jobs.keys()]);
  }

  list(): JobStatus[] {
    return [...this.jobs.values()].map((job) => ({
      name: job.name,
      period: job.schedule.period,
      owner: this.pool.getHost(job.name),
      running: job.running > 0,
      runs: job.runs,
      skips: job.skips,
      errors: job.errors,
      lastRun: job.lastRun,
      lastDuration: job.lastDuration,
      lastToken: job.lastToken,
      lastError: job.lastError,
    }));
  }

  async invoke(
    name: string,
    instance: object,
    method: (...args: unknown[]) => unknown,
    args: unknown[],
  ): Promise<unknown> {
    const job = this.jobs.get(name);
    if (!job) throw new DiscoveryError(`Unknown distributed job ${name}`);
    if (this.draining || this.options.clientMode) return this.skip(job);

    let tick: number;
    let claim;
    try {
      tick = this.tickFor(job, await this.discovery.syncedServerNow());
      const rank = Math.min(this.pool.rank(name), MAX_FAILOVER_STEPS);
      if (rank > 0) {
        const grace = Math.max(
          1,
          Math.min(this.options.jobs.failoverGrace, Math.floor(job.schedule.period / 4)),
        );
        await new Promise((resolve) => setTimeout(resolve, rank * grace));
        if (this.draining) return this.skip(job);
      }
      claim = await this.claim(job, tick);
    } catch (error) {
      this.logger.warn(
        `Job ${name}: tick skipped on this node, the claim failed: ${message(error)}`,
      );
      return this.skip(job);
    }
    if (!claim.claimed) return this.skip(job);
    return this.runClaimed(job, instance, method, args, { tick, token: claim.token });
  }

  /**
   * Claims a tick. With a signing key the claim is signed; a later claim that blocks this one but
   * does not verify was forged by someone without the key, and is overridden once.
   */
  private async claim(job: JobState, tick: number): Promise<ClaimResult> {
    const { signer, nodeId } = this.discovery;
    const signature = signer?.sign(`${job.key}\n${tick}\n${nodeId}`);
    const result = await this.store.claimTick(job.key, tick, nodeId, signature);
    if (result.claimed || !signer) return result;
    if (signer.verify(`${job.key}\n${result.tick}\n${result.holder}`, result.signature))
      return result;
    this.discovery.stats.unverified += 1;
    this.logger.warn(
      `Job ${job.name}: the latest claim in Redis is not signed by a peer; overriding it`,
    );
    return this.store.claimTick(job.key, tick, nodeId, signature, {
      tick: result.tick,
      signature: result.signature,
    });
  }

  /** Stops taking ticks and waits for running jobs, up to `jobs.drainTimeout`, then aborts them. */
  async drain(): Promise<void> {
    this.draining = true;
    if (this.running.size === 0) return;
    const all = Promise.allSettled([...this.running].map((run) => run.done));
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      all.then(() => false),
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

  /**
   * The tick a firing stands for: the scheduled time nearest to now. A timer that drifts past the
   * middle of a period would jump a tick; if the next tick of this node's last one is within three
   * quarters of a period, it is that one.
   */
  private tickFor(job: JobState, serverNow: number): number {
    const { period } = job.schedule;
    let tick = job.schedule.nearest(serverNow);
    if (
      job.lastTick !== undefined &&
      tick > job.lastTick + period &&
      serverNow - (job.lastTick + period) < 0.75 * period
    ) {
      tick = job.lastTick + period;
    }
    job.lastTick = tick;
    return tick;
  }

  private async runClaimed(
    job: JobState,
    instance: object,
    method: (...args: unknown[]) => unknown,
    args: unknown[],
    claim: { tick: number; token: number },
  ): Promise<unknown> {
    const controller = new AbortController();
    const context: JobContext = {
      jobName: job.name,
      tick: new Date(claim.tick),
      token: claim.token,
      signal: controller.signal,
    };
    const startedAt = performance.now();
    job.running += 1;
    job.runs += 1;
    job.lastRun = new Date();
    job.lastToken = claim.token;
    const done = jobContextStorage.run(context, async () => method.apply(instance, args));
    const run = { done, controller };
    this.running.add(run);
    try {
      return await done;
    } catch (error) {
      job.errors += 1;
      job.lastError = message(error);
      this.logger.error(
        `Job ${job.name} failed (tick ${context.tick.toISOString()}): ${message(error)}`,
      );
      return undefined;
    } finally {
      this.running.delete(run);
      job.running -= 1;
      job.lastDuration = Math.round(performance.now() - startedAt);
    }
  }

  private skip(job: JobState): undefined {
    job.skips += 1;
    return undefined;
  }

  private abortAll(reason: Error): void {
    for (const run of this.running) run.controller.abort(reason);
  }
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
