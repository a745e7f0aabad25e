// Heartbeat cost at 10k nodes beating once a second: Redis CPU (INFO cpu) per beat and as a share
// of a core, for the library's beat and for the hand-written design's beat (one ZADD), and what
// runs inside Redis per beat (INFO commandstats).
// The simulated nodes are spread over 100 client connections (1,000 too in the full run), one
// ioredis connection per group of nodes, and the beats are paced evenly: every ~1 ms the beats due
// go out, each on the connection of its node, so a connection carries about one command per write
// (a handful of sockets would let ioredis batch many beats per write and cost Redis less per
// beat than real nodes do). Before that, what a real node process sends per heartbeat interval.
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import * as handWritten from './baselines/hand-written.mjs';
import { beat, createStore, reap, recordOf, scriptNames } from './lib/library.mjs';
import { startNodeProcess } from './lib/nodes.mjs';
import { commandStats, info, serverCpu } from './lib/redis.mjs';
import { sleep, summarize } from './lib/stats.mjs';

const NODES = 10_000;
const SERVICES = 100;
/** Long enough that nothing expires between runs: the steady state, every beat a renewal. */
const TTL = 120_000;
const HW_PREFIX = 'hb-hw';

function makeNode(i) {
  return {
    nodeId: `hb-${i}`,
    instance: `instance-${i}`,
    record: recordOf({
      nodeId: `hb-${i}`,
      serviceName: 'pool',
      address: `10.0.${i >> 8}.${i & 255}:8080`,
      services: [{ name: `svc-${i % SERVICES}`, version: '1.0.0' }],
      metadata: {},
    }),
    services: [`svc-${i % SERVICES}`],
  };
}

/**
 * `seconds` of NODES beats per second, evenly paced: node i beats through connection
 * i % connections at second offset i / NODES. `send(connection, node)` sends one beat; `extra`
 * (optional) is called once per elapsed ms with the ms index and a list to push its promises to,
 * for sweeps besides the beats.
 */
async function paced(admin, connections, nodes, seconds, send, extra) {
  await admin.config('RESETSTAT');
  const cpuBefore = await serverCpu(admin);
  const startedAt = performance.now();
  const latencies = [];
  const pending = [];
  const extras = [];
  let sent = 0;
  let ms = 0;
  let clients;
  const total = NODES * seconds;
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - startedAt) * NODES) / 1000));
    for (; sent < due; sent++) {
      const i = sent % NODES;
      const at = performance.now();
      pending.push(
        send(i % connections, nodes[i]).then((r) => {
          latencies.push(performance.now() - at);
          return r;
        }),
      );
    }
    for (const end = performance.now() - startedAt; extra && ms < end; ms++) extra(ms, extras);
    if (clients === undefined && sent >= total / 2)
      clients = Number((await info(admin, 'clients')).connected_clients);
    await sleep(1);
  }
  const results = await Promise.all(pending);
  await Promise.all(extras);
  const wall = (performance.now() - startedAt) / 1000;
  const cpu = (await serverCpu(admin)) - cpuBefore;
  const stats = Object.fromEntries(
    Object.entries(await commandStats(admin)).filter(
      ([name]) => name !== 'info' && !name.startsWith('config'),
    ),
  );
  return { beats: total, wall, cpu, stats, latencies, results, clients };
}

/** Scripts a real node process sends per heartbeat interval, counted with MONITOR. */
async function cadence(redisUrl, admin, quick) {
  const names = await scriptNames(); // read as the nodes start, so the digests match
  const interval = 500;
  const count = 3;
  const nodes = [];
  for (let i = 0; i < count; i++) {
    nodes.push(
      await startNodeProcess({
        discovery: {
          redis: redisUrl,
          nodeId: `cad-${i}`,
          keyPrefix: 'cadence',
          heartbeatInterval: interval,
          heartbeatTTL: 3 * interval,
        },
      }),
    );
  }
  await sleep(2 * interval);
  const monitor = await admin.monitor();
  const seen = {};
  monitor.on('monitor', (time, args, source) => {
    if (source === 'lua') return; // commands run inside a script cost no round trip
    const command = String(args[0]).toLowerCase();
    const name = command === 'evalsha' ? (names.get(args[1]) ?? args[1]) : command;
    if (name !== 'info') seen[name] = (seen[name] ?? 0) + 1;
  });
  const seconds = quick ? 3 : 6;
  await sleep(seconds * 1000);
  monitor.disconnect();
  await Promise.all(nodes.map((n) => n.kill()));
  const intervals = (count * seconds * 1000) / interval;
  return {
    interval,
    perInterval: Object.fromEntries(Object.entries(seen).map(([k, v]) => [k, v / intervals])),
  };
}

/** "zadd 1.00 × 2.1 µs, ..." per beat from commandstats (inner script commands included). */
function perBeat(run) {
  return Object.entries(run.stats)
    .sort((a, b) => b[1].usec - a[1].usec)
    .map(
      ([name, s]) =>
        `${name} ${(s.calls / run.beats).toFixed(2)} (${(s.usec / run.beats).toFixed(1)} µs)`,
    )
    .join(', ');
}

export async function run({ redisUrl, quick, log }) {
  const admin = new Redis(redisUrl);
  // First what a real node sends per heartbeat interval; the simulation below sends the same.
  const real = await cadence(redisUrl, admin, quick);
  const perInterval = Object.values(real.perInterval).reduce((a, b) => a + b, 0);
  const beatsPerInterval = real.perInterval.BEAT_SCRIPT ?? 0;
  const reapsPerBeat = (real.perInterval.REAP_SCRIPT ?? 0) / (beatsPerInterval || 1);
  log(`a real node per ${real.interval} ms interval: ${JSON.stringify(real.perInterval)}`);

  const nodes = Array.from({ length: NODES }, (_, i) => makeNode(i));
  const connectionCounts = quick ? [100] : [100, 1000];
  const seconds = quick ? 2 : 3;
  const repeats = quick ? 2 : 4;
  const asNodes = reapsPerBeat >= 0.05; // do nodes send reaps besides their beats?
  const rows = [];
  const worst = `${repeats} runs of ${seconds} s, median run; p99 column = worst run`;
  let latency;
  let libraryCommands;
  let libraryCalls;
  let roundTrips;

  for (const count of connectionCounts) {
    const clients = Array.from({ length: count }, () => new Redis(redisUrl));
    await Promise.all(clients.map((c) => c.ping()));
    const stores = clients.map((client) => createStore(client, 'hb', { pubSub: true }));
    const libraryBeat = (c, n) => beat(stores[c], n, TTL);
    const handBeat = (c, n) => handWritten.beat(clients[c], n, TTL, HW_PREFIX);
    // Registration, then one warm-up second of each.
    for (let i = 0; i < NODES; i += 1000) {
      await Promise.all(nodes.slice(i, i + 1000).map((n, j) => libraryBeat((i + j) % count, n)));
    }
    await handWritten.load(clients[0], nodes, TTL, HW_PREFIX);
    await paced(admin, count, nodes, 1, libraryBeat);
    await paced(admin, count, nodes, 1, handBeat);

    // Reaps as a node sends them (if it does), spread like the beats.
    let reaps = 0;
    const nodeReaps = (ms, extras) => {
      for (reaps += (reapsPerBeat * NODES) / 1000; reaps >= 1; reaps--)
        extras.push(reap(stores[ms % count]));
    };
    // The hand-written design's sweep: one ZREMRANGEBYSCORE per service per second.
    const sweep = (ms, extras) => {
      const s = ms % 1000;
      if (s < SERVICES) extras.push(handWritten.reap(clients[s % count], `svc-${s}`, HW_PREFIX));
    };
    const runs = { library: [], nodes: [], hand: [], sweep: [] };
    for (let r = 0; r < repeats; r++) {
      // Interleaved, so a noisy moment on this shared machine does not hit one design only.
      runs.library.push(await paced(admin, count, nodes, seconds, libraryBeat));
      runs.hand.push(await paced(admin, count, nodes, seconds, handBeat));
      if (asNodes)
        runs.nodes.push(await paced(admin, count, nodes, seconds, libraryBeat, nodeReaps));
      if (r < Math.ceil(repeats / 2))
        runs.sweep.push(await paced(admin, count, nodes, seconds, handBeat, sweep));
    }
    const fewest = Math.min(
      ...Object.values(runs)
        .flat()
        .map((run) => run.clients),
    );
    if (fewest < count)
      throw new Error(`only ${fewest} clients connected during a run, expected ${count}+`);
    const renewedOnly = [...runs.library, ...runs.nodes].every((run) =>
      run.results.every((result) => result.renewedOnly),
    );
    if (!renewedOnly) throw new Error('a library beat did more than renew a lease');
    const usPerBeat = (list) => summarize(list.map((run) => (run.cpu / run.beats) * 1e6));
    const share = (list) => summarize(list.map((run) => (100 * run.cpu) / run.wall));
    const middle = (list) =>
      list.toSorted((a, b) => a.cpu / a.wall - b.cpu / b.wall)[list.length >> 1];
    const lib = usPerBeat(runs.library);
    const hand = usPerBeat(runs.hand);
    const libShare = share(runs.library);
    const handShare = share(runs.hand);
    const sweepShare = share(runs.sweep);
    const nodeShare = asNodes ? share(runs.nodes) : undefined;
    const clientsNote = `${count} connections (INFO clients mid-run: ${fewest}+ connected)`;
    libraryCommands ??= perBeat(middle(runs.library));
    roundTrips ??= (() => {
      const { stats } = middle(runs.library);
      return ((stats.evalsha?.calls ?? 0) + (stats.eval?.calls ?? 0)) / (NODES * seconds);
    })();
    libraryCalls ??=
      Object.values(middle(runs.library).stats).reduce((n, c) => n + c.calls, 0) /
      (NODES * seconds);
    latency ??= {
      library: summarize(runs.library.flatMap((run) => run.latencies)),
      hand: summarize(runs.hand.flatMap((run) => run.latencies)),
    };
    const over = `10k nodes @1 beat/s over ${count} connections`;
    rows.push(
      {
        case: `${over}: Redis CPU per beat, library beat()`,
        unit: 'us',
        median: lib.median,
        p99: lib.max,
        n: repeats,
        note: `${worst}; ${clientsNote}; per beat: ${perBeat(middle(runs.library))}`,
      },
      {
        case: `${over}: Redis CPU per beat, hand-written (one ZADD)`,
        unit: 'us',
        median: hand.median,
        p99: hand.max,
        n: repeats,
        note: `${worst}; per beat: ${perBeat(middle(runs.hand))}`,
      },
      {
        case: `${over}: ratio Redis CPU per beat, library / hand-written`,
        unit: 'x',
        median: lib.median / hand.median,
        target: '<= 1.5x',
        met: lib.median / hand.median <= 1.5,
      },
      {
        case: `${over}: Redis CPU, library beats only`,
        unit: '%core',
        median: libShare.median,
        p99: libShare.max,
        n: repeats,
        target: asNodes ? undefined : '< 25% of one core',
        met: asNodes ? undefined : libShare.median < 25,
        note: `${worst}; = µs per node-second (1 beat per node per second)`,
      },
    );
    if (asNodes) {
      rows.push({
        case: `${over}: Redis CPU, what a library node sends (${reapsPerBeat.toFixed(2)} reap per beat)`,
        unit: '%core',
        median: nodeShare.median,
        p99: nodeShare.max,
        n: repeats,
        target: '< 25% of one core',
        met: nodeShare.median < 25,
        note: worst,
      });
    }
    rows.push(
      {
        case: `${over}: Redis CPU, hand-written beats (one ZADD each)`,
        unit: '%core',
        median: handShare.median,
        p99: handShare.max,
        n: repeats,
        note: worst,
      },
      {
        case: `${over}: Redis CPU, hand-written beats + a sweep of every service each second`,
        unit: '%core',
        median: sweepShare.median,
        p99: sweepShare.max,
        n: runs.sweep.length,
        note: `ZREMRANGEBYSCORE of each of the ${SERVICES} service sets once a second, besides the beats`,
      },
    );
    log(
      `${count} connections: Redis CPU per beat library ${lib.median.toFixed(1)} µs, ` +
        `hand-written ${hand.median.toFixed(1)} µs (${(lib.median / hand.median).toFixed(2)}x); ` +
        `${libShare.median.toFixed(1)}% vs ${handShare.median.toFixed(1)}% of a core`,
    );

    if (count === connectionCounts[0]) {
      // Diagnostics at the same pace and connections: the fixed cost of a round trip and of a
      // script, next to the ZADD above.
      const emptySha = await clients[0].script('LOAD', 'return 0');
      const zaddSha = await clients[0].script(
        'LOAD',
        "return redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2])",
      );
      const diagnostics = {
        PING: (c) => clients[c].ping(),
        'EVALSHA of an empty script (return 0)': (c) => clients[c].evalsha(emptySha, 0),
        'EVALSHA of a script running the same ZADD': (c, n) =>
          clients[c].evalsha(
            zaddSha,
            1,
            `${HW_PREFIX}:svc:${n.services[0]}`,
            Date.now() + TTL,
            n.nodeId,
          ),
      };
      for (const [name, send] of Object.entries(diagnostics)) {
        const list = [];
        for (let r = 0; r < (quick ? 1 : 2); r++)
          list.push(await paced(admin, count, nodes, seconds, send));
        const us = usPerBeat(list);
        rows.push({
          case: `diagnostic, same pace and connections: Redis CPU per call, ${name}`,
          unit: 'us',
          median: us.median,
          p99: us.max,
          n: list.length,
          note: `per call: ${perBeat(middle(list))}`,
        });
      }
    }
    await Promise.all(clients.map((c) => c.quit()));
  }

  rows.unshift(
    {
      case: `real node process: round trips per heartbeat interval (${real.interval} ms)`,
      unit: 'count',
      median: perInterval / (beatsPerInterval || 1),
      target: '1 round trip per beat',
      met: beatsPerInterval > 0 && perInterval / beatsPerInterval < 1.05,
      note:
        'per beat, from MONITOR on 3 nodes: ' +
        Object.entries(real.perInterval)
          .map(
            ([name, n]) =>
              `${name.replace('_SCRIPT', '').toLowerCase()} ${(n / (beatsPerInterval || 1)).toFixed(2)}`,
          )
          .join(', '),
    },
    {
      case: 'store beat(): client round trips (EVALSHA) per call',
      unit: 'count',
      median: roundTrips,
      target: '1 round trip per beat',
      met: Math.abs(roundTrips - 1) < 0.001,
    },
    {
      case: 'library beat: Redis commands per beat (the script and the commands inside it)',
      unit: 'count',
      median: libraryCalls,
      note: `calls (Redis µs) per beat, INFO commandstats: ${libraryCommands}`,
    },
  );
  rows.push(
    {
      case: 'beat latency at 10k beats/s, library beat()',
      unit: 'ms',
      median: latency.library.median,
      p99: latency.library.p99,
      n: latency.library.n,
    },
    {
      case: 'beat latency at 10k beats/s, hand-written ZADD',
      unit: 'ms',
      median: latency.hand.median,
      p99: latency.hand.p99,
      n: latency.hand.n,
    },
  );
  admin.disconnect();
  return { rows };
}
