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

/** One run of a job, from its `run` report to its `done` / `aborted` report (or `end`). */
export interface RunSpan {
  node: string;
  tick: number;
  token: number;
  start: number;
  /** When it finished or was aborted; undefined while it ran on when the reports end. */
  end: number | undefined;
  aborted: NodeReport | undefined;
}

/** The runs of `job`, in the order they started. */
export function runSpans(reports: NodeReport[], job: string): RunSpan[] {
  const ends = new Map<string, NodeReport>();
  for (const r of reports) {
    if ((r.event === 'done' || r.event === 'aborted') && r.job === job) {
      ends.set(`${r.node}/${r.token}`, r);
    }
  }
  return reports
    .filter((r) => r.event === 'run' && r.job === job)
    .map((r) => {
      const end = ends.get(`${r.node}/${r.token}`);
      return {
        node: r.node,
        tick: r.tick!,
        token: r.token!,
        start: r.at,
        end: end?.at,
        aborted: end?.event === 'aborted' ? end : undefined,
      };
    })
    .sort((a, b) => a.start - b.start);
}

/**
 * Fencing: tokens are unique and grow in the order the claims were granted. Runs start right after
 * their claim, so sorted by token they must also be sorted by start, give or take `toleranceMs`
 * (processes report their own start times).
 */
export function tokenOrderViolations(runs: RunSpan[], toleranceMs = 25): string[] {
  const byToken = [...runs].sort((a, b) => a.token - b.token);
  const problems: string[] = [];
  for (let i = 1; i < byToken.length; i++) {
    const [before, after] = [byToken[i - 1], byToken[i]];
    if (after.token === before.token) problems.push(`token ${after.token} given twice`);
    else if (after.start < before.start - toleranceMs) {
      problems.push(
        `token ${after.token} (tick ${after.tick}, ${after.node}) started ${before.start - after.start} ms before token ${before.token} (tick ${before.tick}, ${before.node})`,
      );
    }
  }
  return problems;
}

/** Runs that started after `latestStart(tick)` + `toleranceMs`: later than their starting deadline. */
export function lateRuns(
  runs: RunSpan[],
  latestStart: (tick: number) => number,
  toleranceMs = 50,
): string[] {
  return runs
    .filter((run) => run.start > latestStart(run.tick) + toleranceMs)
    .map((run) => `tick ${run.tick} started ${run.start - run.tick} ms after it (${run.node})`);
}
