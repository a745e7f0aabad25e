import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { DistributedJob, getJobContext } from 'nestjs-redis-discovery';
import type { NodeReport } from '../support/node-process.js';
import { checkTicks, tokenOrderViolations } from '../support/tick-checker.js';

/** One run of a distributed job as the job itself saw it. */
export interface JobRun {
  tick: number;
  token: number;
  /** Local time of the run. */
  at: number;
  /** A run of a missed tick (`catchupWindow`). */
  catchup: boolean;
}

export interface TicksReport {
  /** Ticks in [from, to]. */
  expected: number;
  doubled: number[];
  missed: number[];
  /** Fencing problems: a token given twice, or tokens out of the order the runs started in. */
  tokenProblems: string[];
}

/** Exactly-once check over the runs of one job on several nodes; ticks are multiples of `period`. */
export function checkTicksOnce(
  runsByNode: Record<string, JobRun[]>,
  period: number,
  from: number,
  to: number,
): TicksReport {
  const reports: NodeReport[] = Object.entries(runsByNode).flatMap(([node, runs]) =>
    runs.map((run) => ({ node, event: 'run' as const, job: 'ticker', ...run })),
  );
  const { expected, doubled, missed } = checkTicks(reports, 'ticker', period, from, to);
  const tokenProblems = tokenOrderViolations(
    reports.map((r) => ({
      ...r,
      tick: r.tick!,
      token: r.token!,
      start: r.at,
      end: undefined,
      aborted: undefined,
    })),
  );
  return { expected, doubled, missed, tokenProblems };
}

/** Records the run in progress (called from inside a distributed job). */
function recordRun(runs: JobRun[]): void {
  const context = getJobContext()!;
  runs.push({
    tick: context.tick.getTime(),
    token: context.token,
    at: Date.now(),
    catchup: context.catchup,
  });
}

/** An `@Interval(100)` distributed job that records every run it gets. */
@Injectable()
export class Ticker {
  readonly runs: JobRun[] = [];

  @Interval(100)
  @DistributedJob('ticker')
  tick(): void {
    recordRun(this.runs);
  }
}

/**
 * The same job with `catchupWindow`: a tick for which no timer fired in time (both test nodes
 * share one process, which a loaded machine can stall past the 50 ms deadline) runs as a catch-up
 * with the next claim, so "every tick once" holds under any stall shorter than the window.
 */
@Injectable()
export class CatchingUpTicker {
  readonly runs: JobRun[] = [];

  @Interval(100)
  @DistributedJob({ name: 'ticker', catchupWindow: 2000, catchup: 'all' })
  tick(): void {
    recordRun(this.runs);
  }
}
