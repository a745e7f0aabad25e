// The attempts of one granted run: the method inside its run context, retried on this node for the
// same tick while `retry` allows it and the start rule holds, each attempt's outcome written to
// the job's history in Redis (with the cluster-wide totals, and `pauseAfterFailures`).
import { Logger } from '@nestjs/common';
import { errorMessage } from '../common/error-message.js';
import { LeaseLostError, RunCancelledError } from '../common/errors.js';
import type { ServerClock } from '../common/server-clock.js';
import type { JobClaimStore } from '../storage/job-claim-store.interface.js';
import type { RunKind, RunOutcome } from '../storage/job-operations.interface.js';
import { jobContextStorage } from './job-context.js';
import type { JobRun } from './job-run.js';
import type { JobState } from './job-state.js';
import type { Grant } from './tick-claimer.js';

/** The longest error message the history keeps (characters). */
export const HISTORY_MESSAGE_LIMIT = 200;

const logger = new Logger('DistributedJobs');

export interface AttemptsDeps {
  claims: JobClaimStore;
  nodeId: string;
  clock: ServerClock;
  /** Why a retry must not start now (lease, shutdown), if it must not. */
  retryRefusal(): string | undefined;
  /** Keeps a write that goes on after the run returned (drain waits for it). */
  background(write: Promise<void>): void;
}

/** The method of a job, bound to its instance and arguments. */
export interface JobCall {
  instance: object | undefined;
  method: (...args: unknown[]) => unknown;
  args: unknown[];
}

/** How a run ended: its value, its last attempt's outcome and error. */
export interface RunResult {
  value: unknown;
  outcome: RunOutcome;
  failure: unknown;
  attempts: number;
}

/** Runs the attempts of `grant` (the run context `run`), up to the job's `retry.attempts`. */
export async function runAttempts(
  deps: AttemptsDeps,
  job: JobState,
  call: JobCall,
  run: JobRun,
  grant: Grant,
): Promise<RunResult> {
  const { definition } = job;
  const kind: RunKind = grant.kind ?? (grant.catchup ? 'catchup' : 'schedule');
  for (let attempt = 1; ; attempt++) {
    run.attempt = attempt;
    if (attempt > 1) job.retries += 1;
    const start = deps.clock.now();
    let value: unknown;
    let failure: unknown;
    try {
      value = await jobContextStorage.run(run, async () =>
        call.method.apply(call.instance, call.args),
      );
    } catch (error) {
      failure = error ?? new Error('undefined thrown');
      job.errors += 1;
      job.lastError = errorMessage(error);
      logger.error(
        `Job ${definition.name} failed (tick ${run.tick.toISOString()}, attempt ${attempt}): ${errorMessage(error)}`,
      );
    }
    const outcome = outcomeOf(run, failure);
    let final = outcome !== 'error' || attempt >= definition.attempts;
    if (!final) {
      // The next attempt starts after the backoff, never beside this one, and only if it may.
      await wait(definition.retryDelay(attempt), run.signalOf());
      const refused = run.abortReason !== undefined ? 'aborted' : deps.retryRefusal();
      if (refused) {
        logger.warn(
          `Job ${definition.name}: no retry of tick ${run.tick.toISOString()} (${refused})`,
        );
        final = true;
      }
    }
    const written = record(deps, job, grant, kind, { attempt, start, outcome, failure, final });
    if (!final) {
      await written;
      continue;
    }
    // Sent now, before the run's marker is released on the same connection (so a read after the
    // run returns sees it), but not waited for: the release and the next tick are not delayed.
    deps.background(written);
    return { value, outcome, failure, attempts: attempt };
  }
}

/** ok, error (it threw), cancelled (`cancelOther`, marker lost) or aborted (lease lost, shutdown). */
export function outcomeOf(run: JobRun, failure: unknown): RunOutcome {
  const reason = run.abortReason ?? failure;
  if (reason instanceof RunCancelledError) return 'cancelled';
  if (run.abortReason !== undefined || failure instanceof LeaseLostError) return 'aborted';
  return failure === undefined ? 'ok' : 'error';
}

async function record(
  deps: AttemptsDeps,
  job: JobState,
  grant: Grant,
  kind: RunKind,
  attempt: {
    attempt: number;
    start: number;
    outcome: RunOutcome;
    failure: unknown;
    final: boolean;
  },
): Promise<void> {
  const { definition } = job;
  const { failure } = attempt;
  const error =
    failure === undefined
      ? undefined
      : {
          class: failure instanceof Error ? failure.name : typeof failure,
          message: errorMessage(failure).slice(0, HISTORY_MESSAGE_LIMIT),
        };
  try {
    const written = await deps.claims.recordRun({
      jobKey: definition.key,
      limit: definition.historyLimit,
      pauseAfterFailures: definition.pauseAfterFailures,
      final: attempt.final,
      entry: {
        tick: grant.tick,
        node: deps.nodeId,
        token: grant.token,
        start: attempt.start,
        outcome: attempt.outcome,
        ...(error ? { error } : {}),
        attempt: attempt.attempt,
        kind,
      },
    });
    job.failuresInRow = written.failuresInRow;
    if (written.paused) {
      job.pausedSeen = true;
      logger.warn(
        `Job ${definition.name} paused for the cluster: ${written.failuresInRow} runs in a row failed (pauseAfterFailures)`,
      );
    }
  } catch (cause) {
    logger.warn(
      `Job ${definition.name}: its run could not be written to the history: ${errorMessage(cause)}`,
    );
  }
}

function wait(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });
}
