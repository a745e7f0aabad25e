// Runs granted ticks on this node: the one rule every start obeys (lease, drain, deadline), the run
// context, the run marker kept while a run goes on, the release that starts a tick that waited,
// cancellation, and the drain at shutdown.
import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';
import { DiscoveryError, RunCancelledError } from '../common/errors.js';
import type { ServerClock } from '../common/server-clock.js';
import type { Telemetry } from '../common/telemetry/telemetry.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import type { JobSkips } from './distributed-job.interface.js';
import { jobContextStorage } from './job-context.js';
import { JobRun, type LeaseCheck } from './job-run.js';
import { sawTick, type JobState } from './job-state.js';
import type { RunMarker } from './run-marker.js';
import type { Grant, TickClaimer } from './tick-claimer.js';
import { errorMessage } from '../common/error-message.js';

export type JobMethod = (...args: unknown[]) => unknown;

/** The method of a job, bound to its instance and arguments. */
export interface JobCall {
  instance: object;
  method: JobMethod;
  args: unknown[];
}

interface ActiveRun {
  job: JobState;
  run: JobRun;
  /** Token of the run marker this run holds (overlap policies other than `allow`). */
  marker: number | undefined;
  done: Promise<unknown>;
}

export interface JobRunnerDeps {
  options: ResolvedDiscoveryOptions;
  marker: RunMarker;
  claimer: TickClaimer;
  /** This node's lease (NodeLease): no run starts without it. */
  lease: LeaseCheck;
  clock: ServerClock;
  telemetry: Telemetry;
}

/** Why a grant was not started. */
export type StartRefusal = Extract<keyof JobSkips, 'noLease' | 'stopping' | 'deadline'>;

/** A run, started or refused (and given back); `done` settles when it ends (never rejects). */
export interface StartedRun {
  started: boolean;
  done: Promise<{ value: unknown }>;
}

export class JobRunner {
  private readonly logger = new Logger('DistributedJobs');
  private readonly running = new Set<ActiveRun>();
  /** Releases of run markers in flight: one may start a tick that waited, so drain waits for them. */
  private readonly releases = new Set<Promise<void>>();
  private draining = false;

  private readonly options: ResolvedDiscoveryOptions;
  private readonly marker: RunMarker;
  private readonly claimer: TickClaimer;
  private readonly lease: LeaseCheck;
  private readonly clock: ServerClock;
  private readonly telemetry: Telemetry;

  constructor(deps: JobRunnerDeps) {
    ({
      options: this.options,
      marker: this.marker,
      claimer: this.claimer,
      lease: this.lease,
      clock: this.clock,
      telemetry: this.telemetry,
    } = deps);
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Why `grant` must not start now, if it must not: every start obeys this one rule (the claim,
   * each catch-up, a tick that waited, a retry). No lease (a stall past it, or never registered),
   * shutdown begun, or its starting deadline may have passed: judged by the latest Redis time it
   * can be now (ServerClock.latest()), so a grant that was slow to arrive does not start late.
   */
  refusal(grant: Grant): StartRefusal | undefined {
    if (this.draining) return 'stopping';
    if (!this.lease.isValid()) return 'noLease';
    if (this.clock.latest() > grant.notAfter) return 'deadline';
    return undefined;
  }

  /**
   * Runs one granted tick, if the rule allows it (else gives it back, so that a peer can still
   * claim it in time, and counts why); `marker` is the run marker it holds, if the job has one.
   */
  run(job: JobState, call: JobCall, grant: Grant, marker: number | undefined): StartedRun {
    const refused = this.refusal(grant);
    if (refused) {
      this.logger.warn(
        `Job ${job.definition.name}: tick ${new Date(grant.tick).toISOString()} granted here, not started (${refused}); given back`,
      );
      job.skipped[refused] += 1;
      const done = this.claimer.giveBack(job, grant).then(() => ({ value: undefined }));
      return { started: false, done };
    }
    const done = this.execute(job, call, grant, marker).then((value) => ({ value }));
    return { started: true, done };
  }

  /** Runs the method of a grant that may start, inside its run context. */
  private async execute(
    job: JobState,
    call: JobCall,
    grant: Grant,
    marker: number | undefined,
  ): Promise<unknown> {
    const { definition } = job;
    const { catchup } = grant;
    const { nodeId } = this.options;
    const run = new JobRun(definition.name, grant.tick, grant.token, catchup, this.lease, nodeId);
    const startedAt = performance.now();
    job.running += 1;
    job.runs += 1;
    if (catchup) job.catchups += 1;
    job.lastRun = new Date();
    job.lastStartDelay = Math.round(this.clock.now() - grant.tick);
    this.telemetry.jobStarted(definition.name, job.lastStartDelay);
    let failure: unknown;
    job.lastToken = grant.token;
    const renewal =
      marker === undefined
        ? undefined
        : this.marker.keep(definition, marker, () =>
            run.abort(
              new RunCancelledError(
                `Job ${definition.name}: another run took over (a newer tick with overlap 'cancelOther', or the run marker expired)`,
              ),
            ),
          );
    const done = jobContextStorage.run(run, async () =>
      call.method.apply(call.instance, call.args),
    );
    const active: ActiveRun = { job, run, marker, done };
    this.running.add(active);
    try {
      return await done;
    } catch (error) {
      failure = error ?? new Error('undefined thrown');
      job.errors += 1;
      job.lastError = errorMessage(error);
      this.logger.error(
        `Job ${definition.name} failed (tick ${run.tick.toISOString()}): ${errorMessage(error)}`,
      );
      return undefined;
    } finally {
      clearInterval(renewal);
      this.running.delete(active);
      job.running -= 1;
      const duration = performance.now() - startedAt;
      job.lastDuration = Math.round(duration);
      this.telemetry.jobFinished(definition.name, duration, failure);
    }
  }

  /** Ends a marker-holding run in the background; a tick that waited for it runs next, here. */
  release(job: JobState, marker: number, call: JobCall): void {
    const releasing = this.releaseAndRunNext(job, marker, call);
    this.releases.add(releasing);
    void releasing.finally(() => this.releases.delete(releasing));
  }

  /** A newer tick took the marker of `marker` (`cancelOther`): its run here stops at once. */
  cancel(job: JobState, marker: number, tick: number): void {
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

  abortAll(reason: Error): void {
    for (const active of this.running) active.run.abort(reason);
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

  private async releaseAndRunNext(job: JobState, marker: number, call: JobCall): Promise<void> {
    const { definition } = job;
    for (let token = marker; ;) {
      let next;
      try {
        const sentAt = performance.now();
        const takeNext = !this.draining && this.lease.isValid();
        const released = await this.marker.release(job, token, takeNext);
        ({ next } = released);
        this.claimer.observe(released.serverTime, sentAt);
      } catch (error) {
        this.logger.warn(
          `Job ${definition.name}: could not release its run: ${errorMessage(error)}`,
        );
        return; // the marker lapses with its lease
      }
      if (!next) return;
      token = next.token;
      sawTick(job, next.tick);
      job.highestToken = Math.max(job.highestToken, token);
      // It waited for the run just ended, as `bufferOne` says: no starting deadline, the rest holds.
      const grant: Grant = { ...next, catchup: false, notAfter: Infinity };
      const run = this.run(job, call, grant, token);
      await run.done;
      if (!run.started) return; // given back, with its marker
    }
  }
}
