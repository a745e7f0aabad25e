import type { NodeReport } from './node-process.js';

export interface TickReport {
  /** Ticks in the window. */
  expected: number;
  /** Ticks in the window that ran at least once. */
  ran: number;
  doubled: number[];
  missed: number[];
  /** Runs per node, over the whole report. */
  byNode: Record<string, number>;
}

/**
 * The invariant of distributed jobs: every tick of `job` in [from, to] started exactly once across
 * all nodes. Ticks are multiples of `period` (server time, ms).
 */
export function checkTicks(
  reports: NodeReport[],
  job: string,
  period: number,
  from: number,
  to: number,
): TickReport {
  const runs = reports.filter((r) => r.event === 'run' && r.job === job);
  const count = new Map<number, number>();
  const byNode: Record<string, number> = {};
  for (const run of runs) {
    count.set(run.tick!, (count.get(run.tick!) ?? 0) + 1);
    byNode[run.node] = (byNode[run.node] ?? 0) + 1;
  }
  const doubled = [...count].filter(([, n]) => n > 1).map(([tick]) => tick);
  const missed: number[] = [];
  let expected = 0;
  for (let tick = Math.ceil(from / period) * period; tick <= to; tick += period) {
    expected += 1;
    if (!count.has(tick)) missed.push(tick);
  }
  return { expected, ran: expected - missed.length, doubled, missed, byNode };
}

/** A tick window safely inside [startedAt, stoppedAt]: two periods in from each end. */
export function innerWindow(
  startedAt: number,
  stoppedAt: number,
  period: number,
): [number, number] {
  return [startedAt + 2 * period, stoppedAt - 2 * period];
}
