// The record of every job run the nodes reported, by job and tick: flags a doubled tick and the
// first takeover of the killed node's jobs as they come, and counts each tick's runs at the end.
import { TTY, c, clock, nodeColor } from './format.mjs';
import { event, state } from './state.mjs';

/** One `run` record from a node's stdout: `{ job, tick, node, token, at }`. */
export function recordRun(run) {
  const key = `${run.job}@${run.tick}`;
  const runs = state.runs.get(key) ?? [];
  runs.push(run);
  state.runs.set(key, runs);
  const late = run.at - run.tick;
  if (!TTY) {
    process.stdout.write(
      `${c.dim(clock(run.at))}  ${run.job.padEnd(7)} tick ${clock(run.tick)} -> ` +
        `${nodeColor(run.node)(run.node)}  token ${run.token}${late > 100 ? `  (+${late} ms)` : ''}\n`,
    );
  }
  if (runs.length > 1) {
    event(c.red(`DOUBLED: ${run.job} tick ${clock(run.tick)} ran on ${runs.map((r) => r.node)}`));
  }
  if (
    state.killedAt !== undefined &&
    run.at > state.killedAt &&
    state.ownedByVictim.includes(run.job) &&
    !state.takeovers.has(run.job)
  ) {
    state.takeovers.set(run.job, { node: run.node, tick: run.tick, late });
    event(
      `${c.green('failover')}: ${run.job} tick ${clock(run.tick)} taken over by ` +
        `${nodeColor(run.node)(run.node)}, started ${late} ms after the tick`,
    );
  }
}

/**
 * Per job: the ticks due in [from, to], how many ran, which were missed, which doubled (any
 * tick, in the window or not) and the runs by node.
 */
export function summarize(from, to) {
  const rows = [];
  for (const [job, period] of Object.entries(state.periods)) {
    let expected = 0;
    const missed = [];
    const doubled = [];
    const byNode = {};
    for (let tick = Math.ceil(from / period) * period; tick <= to; tick += period) {
      expected += 1;
      const runs = state.runs.get(`${job}@${tick}`) ?? [];
      if (runs.length === 0) missed.push(tick);
      if (runs.length > 1) doubled.push(tick);
      for (const run of runs) byNode[run.node] = (byNode[run.node] ?? 0) + 1;
    }
    // A tick outside the window may have been doubled too: count every one.
    for (const [key, runs] of state.runs) {
      const tick = Number(key.slice(key.indexOf('@') + 1));
      if (key.startsWith(`${job}@`) && runs.length > 1 && !doubled.includes(tick)) {
        doubled.push(tick);
      }
    }
    rows.push({ job, period, expected, run: expected - missed.length, doubled, missed, byNode });
  }
  return rows;
}
