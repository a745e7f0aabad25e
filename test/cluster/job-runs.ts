import { Injectable } from '@nestjs/common';
import { Interval } from '@nestjs/schedule';
import { DistributedJob, getJobContext } from 'nestjs-redis-discovery';

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
  byNode: Record<string, number>;
}

/** Exactly-once check over the runs of one job on several nodes; ticks are multiples of `period`. */
export function checkTicksOnce(
  runsByNode: Record<string, JobRun[]>,
  period: number,
  from: number,
  to: number,
): TicksReport {
  const all = Object.values(runsByNode).flat();
  const count = new Map<number, number>();
  for (const run of all) count.set(run.tick, (count.get(run.tick) ?? 0) + 1);
  const doubled = [...count].filter(([, n]) => n > 1).map(([tick]) => tick);
  const missed: number[] = [];
  let expected = 0;
  for (let tick = Math.ceil(from / period) * period; tick <= to; tick += period) {
    expected += 1;
    if (!count.has(tick)) missed.push(tick);
  }
  const tokensInTickOrder = [...all]
    .sort((x, y) => x.tick - y.tick || x.at - y.at)
    .map((run) => run.token);
  const byNode = Object.fromEntries(
    Object.entries(runsByNode).map(([node, runs]) => [node, runs.length]),
  );
  return { expected, doubled, missed, tokensInTickOrder, byNode };
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
