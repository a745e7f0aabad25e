// Operating a job from any node: pause and resume for the whole cluster, a run triggered now on
// this node, and what `describe()` shows (state, schedule, next fire times, history, totals).
import { InvalidArgumentError } from '../common/errors.js';
import { ServerClock } from '../common/server-clock.js';
import type { JobClaimStore } from '../storage/job-claim-store.interface.js';
import type {
  JobDescription,
  PauseChange,
  PauseOptions,
  TriggerOptions,
  TriggerResult,
} from './job-operations.interface.js';
import type { JobCall, JobRunner } from './job-runner.js';
import type { LeaseCheck } from './job-run.js';
import type { JobState } from './job-state.js';
import type { Grant, TickClaimer } from './tick-claimer.js';

/** How many fire times `describe()` lists. */
export const NEXT_FIRE_TIMES = 10;
const MAX_REASON = 500;

export interface JobOperationsDeps {
  claims: JobClaimStore;
  nodeId: string;
  claimer: TickClaimer;
  runner: JobRunner;
  lease: LeaseCheck;
  clock: ServerClock;
  /** Redis time now, after one round trip if no reply has set the clock yet. */
  syncedServerNow: () => Promise<number>;
  owner: (job: string) => string | undefined;
  runLease: number;
  clientMode: boolean;
}

export class JobOperations {
  constructor(private readonly deps: JobOperationsDeps) {}

  async setPaused(
    job: JobState,
    paused: boolean,
    options: PauseOptions = {},
  ): Promise<PauseChange> {
    const reason = options.reason ?? '';
    if (typeof reason !== 'string' || reason.length > MAX_REASON) {
      throw new InvalidArgumentError(
        `pause() reason must be a string of at most ${MAX_REASON} characters`,
      );
    }
    const { definition } = job;
    const sentAt = ServerClock.local();
    const result = await this.deps.claims.setPaused({
      jobKey: definition.key,
      paused,
      reason: paused ? reason : '',
      nodeId: this.deps.nodeId,
      initiallyPaused: definition.initiallyPaused,
    });
    this.deps.claimer.observe(result.serverTime, sentAt);
    job.pausedSeen = paused;
    return { paused, wasPaused: result.wasPaused };
  }

  async describe(job: JobState): Promise<JobDescription> {
    const { definition } = job;
    const { schedule } = definition;
    const snapshot = await this.deps.claims.describe(
      definition.key,
      definition.historyLimit,
      definition.initiallyPaused,
    );
    job.pausedSeen = snapshot.paused;
    job.failuresInRow = snapshot.failuresInRow;
    return {
      name: definition.name,
      runtime: job.runtime !== undefined,
      paused: snapshot.paused,
      pauseReason: snapshot.pauseReason,
      pausedAt: snapshot.pausedAt === undefined ? undefined : new Date(snapshot.pausedAt),
      pausedBy: snapshot.pausedBy,
      schedule: {
        kind: schedule.kind,
        cron: schedule.cron && { ...schedule.cron },
        period: schedule.period,
      },
      nextFireTimes: nextFireTimes(job, snapshot.serverTime),
      owner: this.deps.owner(definition.name),
      runs: snapshot.runs,
      totals: snapshot.totals,
      failuresInRow: snapshot.failuresInRow,
    };
  }

  /** One run now, on this node (see TriggerResult); `call` is the job's method. */
  async trigger(
    job: JobState,
    call: JobCall,
    options: TriggerOptions = {},
  ): Promise<TriggerResult> {
    const { runner, lease, claims, claimer, nodeId } = this.deps;
    const { definition } = job;
    if (runner.isDraining || this.deps.clientMode) return { status: 'refused', reason: 'stopping' };
    if (!lease.isValid()) return { status: 'refused', reason: 'noLease' };
    let tick = Math.round(await this.deps.syncedServerNow());
    for (let tries = 0; ; tries++) {
      const sentAt = ServerClock.local();
      const result = await claims.trigger({
        jobKey: definition.key,
        tick,
        nodeId,
        signature: claimer.sign(definition.key, tick),
        requestId: claimer.requestId(),
        overlap: definition.overlap,
        runLease: this.deps.runLease,
        tokenFloor: job.highestToken,
        initiallyPaused: definition.initiallyPaused,
        exclusive: options.concurrent !== true,
      });
      claimer.observe(result.serverTime, sentAt);
      // A record of that very ms exists (a cron tick, another trigger): the next ms is free.
      if (result.status === 'taken' && tries < 10) {
        tick += 1;
        continue;
      }
      if (result.status === 'paused') job.pausedSeen = true;
      if (result.status !== 'claimed') {
        const reason = result.status === 'taken' ? 'overlap' : result.status;
        return { status: 'refused', reason, holder: result.holder || undefined };
      }
      job.highestToken = Math.max(job.highestToken, result.token);
      const grant: Grant = {
        tick,
        token: result.token,
        catchup: false,
        notAfter: Infinity,
        kind: 'trigger',
      };
      const refused = runner.refusal(grant);
      if (refused === 'noLease' || refused === 'stopping') {
        await claimer.giveBack(job, grant);
        return { status: 'refused', reason: refused };
      }
      if (result.cancelled !== undefined) runner.cancel(job, result.cancelled, tick);
      const marker = result.holdsMarker ? result.token : undefined;
      const run = runner.run(job, call, grant, marker);
      let done;
      try {
        done = await run.done;
      } finally {
        if (marker !== undefined && run.started) runner.release(job, marker, call);
      }
      const ended = done.result;
      return {
        status: 'ran',
        tick: new Date(tick),
        token: result.token,
        outcome: ended?.outcome ?? 'aborted',
        value: done.value,
        error: ended?.failure,
      };
    }
  }
}

/** When the next ticks of `job` are due (Redis time `serverNow`); none without a timer. */
function nextFireTimes(job: JobState, serverNow: number): Date[] {
  const { schedule } = job.definition;
  if (schedule.kind !== 'cron' && schedule.kind !== 'interval') return [];
  const times: Date[] = [];
  try {
    let tick = schedule.tickAt(Date.now(), serverNow);
    if (schedule.dueAt(tick) > serverNow) times.push(new Date(schedule.dueAt(tick)));
    while (times.length < NEXT_FIRE_TIMES) {
      tick = schedule.nextTick(tick);
      if (tick >= Number.MAX_SAFE_INTEGER) break; // a one-shot cron
      times.push(new Date(schedule.dueAt(tick)));
    }
  } catch {
    // A cron search that gave up: logged where its ticks are claimed.
  }
  return times;
}
