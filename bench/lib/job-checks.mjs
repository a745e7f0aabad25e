// Checks of the job-path benchmark: every tick of a window ran exactly once across the pool, and
// an owner's SIGKILL (how long until its jobs' next ticks ran on other nodes, and whether any tick
// around the kill was missed or run twice).
import { sleep, summarize } from './stats.mjs';

/** Ticks `t` of the window that every node recorded whole: recording began before t - 1 s. */
function window(from, to) {
  const ticks = [];
  for (let t = Math.ceil((from + 1000) / 1000) * 1000; t <= to - 1000; t += 1000) ticks.push(t);
  return ticks;
}

/** Counts, over `runs` ([job, tick] pairs) and the window's ticks, the missed and the doubled. */
function tally(runs, jobs, ticks) {
  const count = new Map();
  for (const [job, tick] of runs)
    count.set(`${job}:${tick}`, (count.get(`${job}:${tick}`) ?? 0) + 1);
  let missed = 0;
  let doubled = 0;
  for (const job of jobs) {
    for (const tick of ticks) {
      const n = count.get(`${job}:${tick}`) ?? 0;
      if (n === 0) missed += 1;
      if (n > 1) doubled += 1;
    }
  }
  return { checked: jobs.length * ticks.length, missed, doubled };
}

/** The recorded runs of every node's report, tick by tick between `recordAt` and `reportAt`. */
export function checkTicks(reports, jobs, recordAt, reportAt) {
  const runs = [];
  for (const r of reports)
    for (let i = 0; i + 1 < r.runs.length; i += 2) runs.push([r.runs[i], r.runs[i + 1]]);
  const all = Array.from({ length: jobs }, (_, i) => i);
  return tally(runs, all, window(recordAt, reportAt));
}

/**
 * SIGKILLs the node that owns the most jobs (`owners`: job name -> node id) at a random phase of
 * the second, while every node prints its runs; times each of its jobs' next run on a survivor.
 */
export async function killOwner(nodes, owners, jobs) {
  const owned = (node) => Object.values(owners).filter((o) => o === node.nodeId).length;
  const victim = [...nodes].sort((a, b) => owned(b) - owned(a))[0];
  const victimJobs = Object.entries(owners)
    .filter(([, o]) => o === victim.nodeId)
    .map(([name]) => Number(name.slice('job-'.length)));
  const from = nodes.map((n) => n.lines.length);
  const streamAt = Date.now();
  nodes.forEach((n) => n.send('stream'));
  await sleep(1500 + Math.random() * 1000);
  const killedAt = Date.now();
  await victim.kill();
  await sleep(3000);
  const endAt = Date.now();
  const runs = nodes.flatMap((n, i) =>
    n.lines
      .slice(from[i])
      .filter((l) => l.event === 'run')
      .map((l) => ({ ...l, node: n.nodeId })),
  );
  const failovers = victimJobs.map((job) => {
    const next = runs.find((r) => r.job === job && r.node !== victim.nodeId && r.at >= killedAt);
    return next ? next.at - killedAt : Infinity;
  });
  const all = Array.from({ length: jobs }, (_, i) => i);
  const checked = tally(
    runs.map((r) => [r.job, r.tick]),
    all,
    window(streamAt, endAt),
  );
  return { failover: summarize(failovers), jobs: victimJobs.length, ...checked };
}
