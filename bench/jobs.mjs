// The job path: node processes on one Redis, each with N distributed `@Cron('* * * * * *')` jobs
// and N plain ones interleaved (bench/lib/job-node.mjs), N = 1, 20, 200 per node, on 1 and 3
// nodes. Per case: start delay (tick -> method starts) of the distributed runs against the plain
// @Cron runs of the same processes, every tick checked (ran once, none missed), and, from MONITOR,
// the claim round trips per tick. Then owner SIGKILL -> the next tick of its jobs on another node,
// and Redis CPU per claimed tick against a minimal hand-written claim (bench/lib/claim-load.mjs).
import { Redis } from 'ioredis';
import { claimLoad, confirmLatency } from './lib/claim-load.mjs';
import { startJobNode } from './lib/job-nodes.mjs';
import { scriptNames } from './lib/library.mjs';
import { sleep, summarize, waitFor } from './lib/stats.mjs';
import { checkTicks, killOwner } from './lib/job-checks.mjs';

const CASES = [
  { nodes: 1, jobs: 1 },
  { nodes: 1, jobs: 20 },
  { nodes: 1, jobs: 200 },
  { nodes: 3, jobs: 1 },
  { nodes: 3, jobs: 20 },
  { nodes: 3, jobs: 200 },
];

async function startNodes(redisUrl, prefix, count, jobs) {
  const nodes = [];
  for (let i = 0; i < count; i++) {
    const discovery = {
      redis: redisUrl,
      keyPrefix: prefix,
      serviceName: 'pool',
      nodeId: `${prefix}-${i}`,
    };
    nodes.push(await startJobNode({ discovery, jobs }));
  }
  await waitFor(() => nodes.every((n) => n.poolSize === count), {
    timeout: 20_000,
    what: `${count} nodes in every pool`,
  });
  return nodes;
}

/** Claim-path commands per tick, from MONITOR over `seconds` (scripts by name). */
async function roundTrips(admin, names, seconds, ticksPerSecond) {
  const monitor = await admin.monitor();
  const seen = {};
  monitor.on('monitor', (time, args, source) => {
    if (source === 'lua') return;
    const command = String(args[0]).toLowerCase();
    const name = command === 'evalsha' ? (names.get(args[1]) ?? args[1]) : command;
    if (name !== 'info') seen[name] = (seen[name] ?? 0) + 1;
  });
  await sleep(seconds * 1000);
  monitor.disconnect();
  const ticks = seconds * ticksPerSecond;
  return Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v / ticks]));
}

async function measure({ redisUrl, admin, names, quick, log }, { nodes: count, jobs }, withKill) {
  const prefix = `jobs${count}x${jobs}`;
  const nodes = await startNodes(redisUrl, prefix, count, jobs);
  await sleep(2000); // warm-up: clocks synced, first claims made
  const recordAt = Date.now();
  nodes.forEach((n) => n.send('record'));
  await sleep((quick ? 5 : 15) * 1000);
  const reportAt = Date.now();
  const reports = await Promise.all(nodes.map((n) => n.report()));
  const distributed = summarize(reports.flatMap((r) => r.distributed));
  const plain = summarize(reports.flatMap((r) => r.plain));
  const plainLast = summarize(reports.flatMap((r) => r.plainLast));
  const hand = summarize(reports.flatMap((r) => r.hand));
  const ticks = checkTicks(reports, jobs, recordAt, reportAt);
  const skipped = {};
  for (const r of reports)
    for (const [k, v] of Object.entries(r.skipped)) if (v) skipped[k] = (skipped[k] ?? 0) + v;
  const trips = await roundTrips(admin, names, quick ? 2 : 4, jobs);
  let kill;
  if (withKill) kill = await killOwner(nodes, reports[0].owners, jobs);
  await Promise.all(nodes.map((n) => n.stop()));
  const warnings = [...new Set(reports.flatMap((r) => r.warnings))].slice(0, 3);
  log(
    `${count} node(s) × ${jobs} jobs: distributed p50 ${distributed.median.toFixed(2)} / p99 ${distributed.p99.toFixed(2)} ms, ` +
      `plain ${plain.median.toFixed(2)} / ${plain.p99.toFixed(2)} ms, last plain ${plainLast.median.toFixed(2)} / ${plainLast.p99.toFixed(2)} ms, hand-written ${hand.median.toFixed(2)} / ${hand.p99.toFixed(2)} ms; ${ticks.checked} ticks, ${ticks.missed} missed, ` +
      `${ticks.doubled} doubled; skipped ${JSON.stringify(skipped)}; per tick ${JSON.stringify(trips)}` +
      (warnings.length ? `; warnings: ${warnings.join(' | ')}` : ''),
  );
  return { count, jobs, distributed, plain, plainLast, hand, ticks, skipped, trips, kill };
}

function caseRows({
  count,
  jobs,
  distributed: d,
  plain: p,
  plainLast: last,
  hand,
  ticks,
  skipped,
  trips,
}) {
  const at = `${count} node${count > 1 ? 's' : ''} × ${jobs} job${jobs > 1 ? 's' : ''}/s`;
  const goal = jobs === 20;
  const skips = Object.entries(skipped)
    .filter(([k]) => k !== 'claimedElsewhere')
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  // The job path's commands (the hand-written claim's SET and INCR left out).
  const path = ['CLAIM_SCRIPT', 'CONFIRM_SCRIPT', 'GIVE_BACK_SCRIPT', 'hmget'];
  const claims = path.reduce((sum, name) => sum + (trips[name] ?? 0), 0);
  const tripNote = Object.entries(trips)
    .filter(([k]) => k !== 'set' && k !== 'incr')
    .map(([k, v]) => `${k.replace('_SCRIPT', '').toLowerCase()} ${v.toFixed(2)}`)
    .join(', ');
  return [
    {
      case: `${at}: start delay, distributed`,
      unit: 'ms',
      median: d.median,
      p99: d.p99,
      n: d.n,
      note: `${ticks.checked} ticks: ${ticks.missed} missed, ${ticks.doubled} run twice${skips ? `; skipped: ${skips}` : ''}`,
      ...(jobs === 200
        ? { target: 'no missed tick', met: ticks.missed === 0 && ticks.doubled === 0 }
        : {}),
    },
    {
      case: `${at}: start delay, plain @Cron (same processes)`,
      unit: 'ms',
      median: p.median,
      p99: p.p99,
      n: p.n,
    },
    {
      case: `${at}: difference distributed - plain`,
      unit: 'ms',
      median: d.median - p.median,
      p99: d.p99 - p.p99,
      ...(goal
        ? {
            target: 'p50 <= 1 ms, p99 <= 5 ms',
            met: d.median - p.median <= 1 && d.p99 - p.p99 <= 5,
          }
        : {}),
    },
    {
      case: `${at}: ratio distributed / plain`,
      unit: 'x',
      median: d.median / p.median,
      p99: d.p99 / p.p99,
    },
    {
      case: `${at}: start delay, the plain @Cron that started last in its second`,
      unit: 'ms',
      median: last.median,
      p99: last.p99,
      n: last.n,
      note: "when that instant's timers were done: no I/O reply (a claim's) is read before",
    },
    {
      case: `${at}: difference distributed - last plain`,
      unit: 'ms',
      median: d.median - last.median,
      p99: d.p99 - last.p99,
    },
    {
      case: `${at}: start delay, a hand-written claim (SET NX PX, then INCR) fired last in the same processes`,
      unit: 'ms',
      median: hand.median,
      p99: hand.p99,
      n: hand.n,
      note: 'its own connection; the node whose SET won runs it: the floor of a claim at that instant',
    },
    {
      case: `${at}: difference distributed - hand-written claim`,
      unit: 'ms',
      median: d.median - hand.median,
      p99: d.p99 - hand.p99,
    },
    {
      case: `${at}: claim-path round trips per tick (pool-wide, MONITOR)`,
      unit: 'count',
      median: claims,
      note: `per tick: ${tripNote}; the owner's path to its start: the claim, and with peers the confirm`,
    },
  ];
}

export async function run({ redisUrl, quick, log }) {
  const admin = new Redis(redisUrl);
  const names = await scriptNames();
  const rows = [];
  let kill;
  for (const c of CASES) {
    const result = await measure(
      { redisUrl, admin, names, quick, log },
      c,
      c.nodes === 3 && c.jobs === 20,
    );
    rows.push(...caseRows(result));
    kill ??= result.kill;
  }
  if (kill) {
    rows.push({
      case: '3 nodes × 20 jobs/s: owner SIGKILL -> next tick of each of its jobs run on another node',
      unit: 'ms',
      median: kill.failover.median,
      p99: kill.failover.max,
      n: kill.failover.n,
      target: 'no missed tick',
      met: kill.missed === 0 && kill.doubled === 0,
      note: `from the kill (at a random phase of the second) to the run, so it includes the wait for the next tick; p99 column: the slowest; ${kill.jobs} jobs owned by the killed node, ${kill.checked} ticks around the kill: ${kill.missed} missed, ${kill.doubled} run twice`,
    });
  }
  const cpu3 = {};
  for (const nodes of [1, 3]) {
    const load = { redisUrl, admin, nodes, jobCount: 200, seconds: quick ? 3 : 6 };
    const library = await claimLoad({ ...load, design: 'library', prefix: `cpu-lib-${nodes}` });
    const minimal = await claimLoad({ ...load, design: 'minimal', prefix: `cpu-min-${nodes}` });
    if (nodes === 3) cpu3.library = library.cpuPerClaim;
    log(
      `Redis CPU per claimed tick, ${nodes} node(s): library ${JSON.stringify(library)}; minimal ${JSON.stringify(minimal)}`,
    );
    const at = `${nodes} node${nodes > 1 ? 's' : ''}, 2000 claimed ticks/s, one connection per node`;
    const detail = (r) =>
      Object.entries(r.perCommand)
        .sort((a, b) => b[1].usec - a[1].usec)
        .map(([k, v]) => `${k} ${v.calls.toFixed(2)} × (${v.usec.toFixed(1)} µs)`)
        .join(', ');
    rows.push(
      {
        case: `${at}: Redis CPU per claimed tick, library`,
        unit: 'us',
        median: library.cpuPerClaim,
        note: `Redis time per claimed tick (commandstats; the commands inside a script are part of its evalsha time): ${detail(library)}`,
      },
      {
        case: `${at}: Redis CPU per claimed tick, minimal SET NX PX + INCR`,
        unit: 'us',
        median: minimal.cpuPerClaim,
        note: `Redis time per claimed tick (commandstats): ${detail(minimal)}`,
      },
      {
        case: `${at}: ratio Redis CPU per claimed tick, library / minimal`,
        unit: 'x',
        median: library.cpuPerClaim / minimal.cpuPerClaim,
        target: '<= 2x',
        met: library.cpuPerClaim / minimal.cpuPerClaim <= 2,
        note: `INFO cpu (used_cpu_sys + used_cpu_user) / claimed ticks; round trips per tick ${library.roundTrips.toFixed(2)} vs ${minimal.roundTrips.toFixed(2)}`,
      },
    );
  }
  // The confirm: Redis CPU with and without it (3 nodes), and what it adds to the start path.
  const noConfirm = await claimLoad({
    redisUrl,
    admin,
    nodes: 3,
    jobCount: 200,
    seconds: quick ? 3 : 6,
    design: 'unconfirmed',
    prefix: 'cpu-unconfirmed',
  });
  const latency = await confirmLatency({ redisUrl, prefix: 'latency', count: quick ? 300 : 1000 });
  const claimOnly = summarize(latency.claim);
  const confirmed = summarize(latency.confirmed);
  log(
    `without confirm ${JSON.stringify(noConfirm)}; claim ${JSON.stringify(claimOnly)}, claim + confirm ${JSON.stringify(confirmed)}`,
  );
  rows.push(
    {
      case: '3 nodes, 2000 claimed ticks/s: Redis CPU per claimed tick, library with grants final at once (no confirm)',
      unit: 'us',
      median: noConfirm.cpuPerClaim,
      note: `the confirm's share: ${(cpu3.library - noConfirm.cpuPerClaim).toFixed(1)} µs per claimed tick in this run`,
    },
    {
      case: 'one job, claims one after another: send to a grant that may run, claim alone',
      unit: 'ms',
      median: claimOnly.median,
      p99: claimOnly.p99,
      n: claimOnly.n,
    },
    {
      case: 'one job, claims one after another: send to a grant that may run, claim + confirm (pool > 1 node)',
      unit: 'ms',
      median: confirmed.median,
      p99: confirmed.p99,
      n: confirmed.n,
      note: `the confirm adds ${(confirmed.median - claimOnly.median).toFixed(3)} ms at the median (one round trip)`,
    },
  );
  admin.disconnect();
  return { rows };
}
