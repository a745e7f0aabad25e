import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { DistributedJob, getJobContext } from 'nestjs-redis-discovery';
import type { NodeReport } from '../support/node-process.js';
import { checkTicks } from '../support/tick-checker.js';

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
  /** Every run's token, ordered by tick (then by run time). */
  tokensInTickOrder: number[];
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
  const tokensInTickOrder = reports
    .sort((x, y) => x.tick! - y.tick! || x.at - y.at)
    .map((run) => run.token!);
  return { expected, doubled, missed, tokensInTickOrder };
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
