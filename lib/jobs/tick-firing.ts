// One firing of a distributed job on this node: which tick it stands for, the ticks this node's
// timer skipped, when this node claims (its rank on the ring), and what the claim's answer means.
import { Logger } from '@nestjs/common';
import { errorMessage } from '../common/error-message.js';
import type { ServerClock } from '../common/server-clock.js';
import { ThrottledWarning } from '../common/throttled-warning.js';
import type { NodePool } from '../node-pool/node-pool.service.js';
import type { JobSkips } from './distributed-job.interface.js';
import { claimDelay } from './job-definition.js';
import type { JobCall, JobRunner } from './job-runner.js';
import { sawTick, type JobState } from './job-state.js';
import type { LeaseCheck } from './job-run.js';
import type { Grant, TickClaimer } from './tick-claimer.js';
import { claimUnfired } from './unfired-ticks.js';

export interface TickFiringDeps {
  claimer: TickClaimer;
  runner: JobRunner;
  pool: NodePool;
  clock: ServerClock;
  lease: LeaseCheck;
  /** Redis time now, after one round trip if no reply has set the clock yet. */
  syncedServerNow: () => Promise<number>;
  /** ms this node's wall clock is ahead of Redis time, once measured. */
  clockOffset: () => number | undefined;
  clientMode: boolean;
}

export class TickFiring {
  private readonly logger = new Logger('DistributedJobs');
  private readonly clockWarnings = new WeakMap<JobState, ThrottledWarning>();
  private readonly lossWarning = new ThrottledWarning(this.logger, 60_000);

  constructor(private readonly deps: TickFiringDeps) {}

  /** A firing of `job`'s method (its timer, or a direct call): claims its tick, runs it if granted. */
  async fire(job: JobState, call: JobCall): Promise<unknown> {
    // The wall clock of the firing, read before any await: it names a cron's tick.
    const wallNow = Date.now();
    const { runner } = this.deps;
    const { name } = job.definition;
    if (runner.isDraining || this.deps.clientMode) return skip(job, 'stopping');
    let serverNow: number;
    try {
      // Once the clock is synced, no await: the claim leaves within this timer's callback.
      serverNow = this.deps.clock.synced
        ? this.deps.clock.now()
        : await this.deps.syncedServerNow();
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
    if (job.definition.schedule.kind === 'cron') prepareNext(job, tick, serverNow);
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
    const { claimer, runner, pool, lease, clock } = this.deps;
    let rank: number;
    let outcome;
    let grants: Grant[];
    try {
      if (!lease.isValid()) return skip(job, 'noLease');
      if (definition.schedule.kind === 'cron') this.checkClock(job, tick);
      rank = pool.rank(name);
      const wait = claimDelay(definition, tick, rank, firedAt);
      let serverNow = firedAt;
      if (wait > 0) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        if (runner.isDraining) return skip(job, 'stopping');
        if (!lease.isValid()) return skip(job, 'noLease');
        serverNow = clock.now();
      }
      // With peers, a grant is confirmed before it runs: if its reply never reaches this node, a
      // peer takes the tick over instead of finding it held by a node that will not run it.
      const confirm = pool.getNodes().length > 1;
      outcome = await claimer.claim(job, tick, serverNow, confirm, rank > 0);
      grants = outcome.grants;
      if (confirm && grants.length > 0) grants = await claimer.confirm(job, grants);
    } catch (error) {
      this.logger.warn(
        `Job ${name}: tick skipped on this node, the claim failed: ${errorMessage(error)}`,
      );
      return skip(job, 'redisError');
    }
    const claim = outcome.result;
    if (claim.status !== 'late' && claim.status !== 'early' && claim.status !== 'lost') {
      sawTick(job, tick);
    }
    if (claim.status === 'claimed' || claim.status === 'paused') {
      job.pausedSeen = claim.status === 'paused';
    }
    switch (claim.status) {
      case 'taken':
        if (claim.takenAs === 'lost') return this.dataLoss(job, tick);
        return skip(
          job,
          claim.takenAs === 'overlap' || claim.takenAs === 'paused'
            ? claim.takenAs
            : 'claimedElsewhere',
        );
      case 'paused':
        return skip(job, 'paused');
      case 'late':
        return skip(job, 'deadline');
      case 'early':
        return skip(job, 'clockSkew');
      case 'lost':
        return this.dataLoss(job, tick);
      case 'overlap':
        return skip(job, 'overlap');
      case 'buffered':
        job.buffered += 1;
        return undefined;
    }
    const main = grants.find((grant) => !grant.catchup);
    // Taken over before this node could confirm it: a peer runs it.
    if (!main) return skip(job, 'claimedElsewhere');
    if (rank > 0) job.failovers += 1;
    const marker = definition.overlap === 'allow' ? undefined : main.token;
    if (claim.cancelled !== undefined) runner.cancel(job, claim.cancelled, tick);
    let started = false;
    try {
      for (const missed of grants.filter((grant) => grant.catchup)) {
        // With `allow` runs may overlap: missed ticks start beside this one, which stays on time.
        const run = runner.run(job, call, missed, marker);
        if (marker !== undefined) await run.done;
      }
      const run = runner.run(job, call, main, marker);
      started = run.started;
      return (await run.done).value;
    } finally {
      // A grant not started was given back, with its marker.
      if (marker !== undefined && started) runner.release(job, marker, call);
    }
  }

  private dataLoss(job: JobState, tick: number): undefined {
    this.lossWarning.warn(
      `Job ${job.definition.name}: Redis lost data (it holds a lower fencing token than this node saw: a restore, a failover to a lagging replica); tick ${tick} not run, it may have run before`,
    );
    return skip(job, 'dataLoss');
  }

  /**
   * Warns (once a minute per job) when this node's wall clock, which fires the cron, is further
   * from Redis time than the tick tolerates: ahead, Redis refuses its claims as early; behind,
   * as late. Other nodes of the pool still run those ticks.
   */
  private checkClock(job: JobState, tick: number): void {
    const offset = this.deps.clockOffset();
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
}

/** Crons whose next tick is further away than this (ms) are not prepared ahead. */
const PREPARE_WITHIN = 3_600_000;

/**
 * Halfway to a cron's next tick, asks for the tick after it: the parser's answer (0.1-1 ms of
 * `cron` work) is then kept, so the next firing names its tick and deadline without a parser call,
 * and jobs firing in the same millisecond do not wait for each other's parser calls.
 */
function prepareNext(job: JobState, tick: number, serverNow: number): void {
  const { schedule } = job.definition;
  let next: number;
  try {
    next = schedule.nextTick(tick);
  } catch {
    return; // the next firing searches, and logs a failure
  }
  const wait = (next - serverNow) / 2;
  if (!(wait < PREPARE_WITHIN)) return;
  setTimeout(
    () => {
      try {
        schedule.nextTick(next);
      } catch {
        // as above: the firing that needs it searches again and logs
      }
    },
    Math.max(0, wait),
  ).unref();
}

function skip(job: JobState, reason: keyof JobSkips): undefined {
  job.skipped[reason] += 1;
  return undefined;
}
