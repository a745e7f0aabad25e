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

/** An `@Interval(100)` distributed job that records every run it gets. */
@Injectable()
export class Ticker {
  readonly runs: JobRun[] = [];

  @Interval(100)
  @DistributedJob('ticker')
  tick(): void {
    const context = getJobContext()!;
    this.runs.push({ tick: context.tick.getTime(), token: context.token, at: Date.now() });
  }
}
