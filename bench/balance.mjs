// Balance of the hash ring: jobs per node (max / mean) and the share of jobs that move when one
// node leaves, for N nodes and J jobs, plain consistent hashing and bounded loads (HashRing).
import { HashRing } from '../dist/node-pool/hash-ring.js';

function assign(ids, jobs, mode) {
  const ring = new HashRing(ids);
  if (mode === 'bounded') return ring.assignBounded(jobs);
  if (mode === 'what-if') return boundedFloor(ring, jobs);
  return new Map(jobs.map((job) => [job, ring.owner(job)]));
}

/**
 * What-if: HashRing.assignBounded with capacity max(ceil(J/N), floor(1.25 J/N)) instead of
 * ceil(1.25 J/N), walking the ring clockwise the same way (through the public preference()).
 */
function boundedFloor(ring, jobs) {
  const capacity = Math.max(
    Math.ceil(jobs.length / ring.size),
    Math.floor((1.25 * jobs.length) / ring.size),
  );
  const load = new Map();
  const owners = new Map();
  for (const job of [...jobs].sort()) {
    let walk = ring.preference(job, 8);
    let owner = walk.find((id) => (load.get(id) ?? 0) < capacity);
    if (!owner) walk = ring.preference(job, ring.size);
    owner ??= walk.find((id) => (load.get(id) ?? 0) < capacity);
    load.set(owner, (load.get(owner) ?? 0) + 1);
    owners.set(job, owner);
  }
  return owners;
}

const label = (mode) =>
  mode === 'what-if' ? 'what-if: bounded, capacity floor(1.25 J/N) (not the library)' : mode;

export async function run({ log }) {
  const rows = [];
  for (const n of [10, 100]) {
    const ids = Array.from({ length: n }, (_, i) => `node-${i}`);
    for (const j of [100, 1000]) {
      const jobs = Array.from({ length: j }, (_, i) => `job-${i}`);
      for (const mode of ['consistent', 'bounded', 'what-if']) {
        const owners = assign(ids, jobs, mode);
        const load = new Map(ids.map((id) => [id, 0]));
        for (const owner of owners.values()) load.set(owner, load.get(owner) + 1);
        const ratio = Math.max(...load.values()) / (j / n);
        // Each node leaves in turn: the share of all jobs whose owner changes.
        const moved = ids.map((leaving) => {
          const after = assign(
            ids.filter((id) => id !== leaving),
            jobs,
            mode,
          );
          return jobs.filter((job) => after.get(job) !== owners.get(job)).length / j;
        });
        const meanMoved = moved.reduce((a, b) => a + b, 0) / n;
        const maxMoved = Math.max(...moved);
        rows.push({
          case: `${label(mode)}, N=${n}, J=${j}: max / mean jobs per node`,
          unit: 'x',
          median: ratio,
          target: mode === 'bounded' ? '<= 1.25' : undefined,
          met: mode === 'bounded' ? ratio <= 1.25 : undefined,
          note: `max ${Math.max(...load.values())}, mean ${j / n}, min ${Math.min(...load.values())}`,
        });
        rows.push({
          case: `${label(mode)}, N=${n}, J=${j}: jobs moved when one node leaves (x 1/N)`,
          unit: 'x',
          median: meanMoved * n,
          p99: maxMoved * n,
          n,
          target: mode === 'what-if' ? undefined : '<= 1.5/N',
          met: mode === 'what-if' ? undefined : meanMoved <= 1.5 / n,
          note: `mean ${(100 * meanMoved).toFixed(2)}%, worst ${(100 * maxMoved).toFixed(2)}% of jobs (1/N = ${(100 / n).toFixed(1)}%); p99 column = worst leaving node`,
        });
        log(
          `${mode} N=${n} J=${j}: max/mean ${ratio.toFixed(2)}, moved ${(meanMoved * n).toFixed(2)}/N (worst ${(maxMoved * n).toFixed(2)}/N)`,
        );
      }
    }
  }
  return { rows };
}
