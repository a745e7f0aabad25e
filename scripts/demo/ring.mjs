// Who owns which job on the ring, as the live nodes answer GET /jobs: updates the periods, owners
// and pool state, and logs an event when the agreed ownership changes.
import { nodeColor } from './format.mjs';
import { live } from './nodes.mjs';
import { event, state } from './state.mjs';

async function getJson(node, path) {
  const response = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    signal: AbortSignal.timeout(1000),
  });
  return response.json();
}

/** Asks the live nodes who owns what on the ring; reports when that changes. */
export async function pollRing() {
  const views = await Promise.all(live().map((n) => getJson(n, '/jobs').catch(() => undefined)));
  const answered = views.filter(Boolean);
  if (answered.length === 0) return;
  const view = answered[0];
  for (const job of view.jobs) state.periods[job.name] = job.period;
  const owners = Object.fromEntries(view.jobs.map((job) => [job.name, job.owner]));
  const agree = answered.every((v) => v.jobs.every((job) => owners[job.name] === job.owner));
  const signature = JSON.stringify([owners, view.nodes]);
  state.poolState = agree ? view.state : 'converging';
  if (agree && signature !== JSON.stringify([state.owners, state.ringNodes])) {
    state.owners = owners;
    state.ringNodes = view.nodes;
    const spread = Object.entries(owners)
      .map(([job, owner]) => `${job}->${nodeColor(owner)(owner)}`)
      .join('  ');
    event(`ring of ${view.nodes.length} node(s) [${view.nodes.join(', ')}]: ${spread}`);
  }
}
