// What the in-process view costs, at 10k and 100k registered nodes (100 per service): the time to
// start a client-mode app over the registry (its startup snapshot), and the heap and RSS the view
// adds, against a plain Map cache of the same parsed records (bench/baselines/map-cache.mjs).
// Every measurement runs in a fresh process (bench/lib/view-child.mjs, node --expose-gc) so the
// memory figures are this one thing after a full GC. Every process that looks nodes up this way
// holds the whole registry: these costs are per process.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { PER_SERVICE, makeNodes, registerInLibrary } from './lib/dataset.mjs';
import { createStore, snapshotRecords } from './lib/library.mjs';
import { commandStats } from './lib/redis.mjs';
import { summarize, timeAsync } from './lib/stats.mjs';

const CHILD = fileURLToPath(new URL('./lib/view-child.mjs', import.meta.url));
const PREFIX = 'view';
const TTL = 3_600_000;
const MiB = 2 ** 20;

function child(args) {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, ['--expose-gc', CHILD, JSON.stringify(args)], {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    proc.stdout.on('data', (chunk) => (out += chunk));
    proc.stderr.on('data', (chunk) => (err += chunk));
    proc.on('exit', (code) => {
      const line = out.trim().split('\n').at(-1);
      if (code === 0 && line) resolve(JSON.parse(line));
      else reject(new Error(`view child (${args.mode}) exited ${code}: ${err || out}`));
    });
  });
}

export async function run({ redisUrl, quick, log }) {
  const client = new Redis(redisUrl);
  const store = createStore(client, PREFIX);
  const repeats = quick ? 2 : 4;
  const rows = [];

  // An app over an empty registry: the startup and heap of the app itself, without nodes.
  const empty = [];
  for (let r = 0; r < repeats; r++)
    empty.push(await child({ redisUrl, prefix: 'view-empty', mode: 'view', expect: 0 }));
  const emptyMs = summarize(empty.map((m) => m.ms));
  const emptyHeap = summarize(empty.map((m) => m.heap)).median;
  log(
    `app over an empty registry: ${emptyMs.median.toFixed(1)} ms, heap +${(emptyHeap / MiB).toFixed(2)} MiB`,
  );

  let loaded = 0;
  for (const size of [10_000, 100_000]) {
    await registerInLibrary(store, makeNodes(loaded, size), TTL);
    loaded = size;
    const views = [];
    const maps = [];
    for (let r = 0; r < repeats; r++) {
      views.push(await child({ redisUrl, prefix: PREFIX, mode: 'view', expect: PER_SERVICE }));
      maps.push(await child({ redisUrl, prefix: PREFIX, mode: 'map', expect: PER_SERVICE }));
    }
    const at = `${size / 1000}k`;
    const startup = summarize(views.map((m) => m.ms));
    const viewHeap = summarize(views.map((m) => (m.heap - emptyHeap) / MiB));
    const mapHeap = summarize(maps.map((m) => m.heap / MiB));
    const viewRss = summarize(views.map((m) => m.rss / MiB));
    const mapRss = summarize(maps.map((m) => m.rss / MiB));
    const mapMs = summarize(maps.map((m) => m.ms));
    const heapRatio = viewHeap.median / mapHeap.median;
    // The read every startup begins with, alone: the store's snapshot, no parsing.
    await client.config('RESETSTAT');
    const read = summarize(
      await timeAsync(() => snapshotRecords(store), { iterations: repeats, min: repeats }),
    );
    const { evalsha } = await commandStats(client);
    const spread = `${repeats} processes; p99 column = largest`;
    rows.push(
      {
        case: `startup: client-mode app start with the snapshot of ${at} nodes`,
        unit: 'ms',
        median: startup.median,
        p99: startup.max,
        n: repeats,
        target: size === 100_000 ? '< 500 ms' : undefined,
        met: size === 100_000 ? startup.median < 500 : undefined,
        note:
          `${spread}; an app over an empty registry starts in ${emptyMs.median.toFixed(1)} ms; ` +
          `reading the same records and filling a plain Map takes ${mapMs.median.toFixed(1)} ms`,
      },
      {
        case: `diagnostic: the snapshot read alone @${at} (store snapshot(), no parsing)`,
        unit: 'ms',
        median: read.median,
        p99: read.max,
        n: read.n,
        note: `Redis runs the script in ${(evalsha.usec / evalsha.calls / 1000).toFixed(1)} ms`,
      },
      {
        case: `view heap @${at} (after a full GC, minus an app over an empty registry)`,
        unit: 'MiB',
        median: viewHeap.median,
        p99: viewHeap.max,
        n: repeats,
        note: `${spread}; an app over an empty registry: ${(emptyHeap / MiB).toFixed(2)} MiB`,
      },
      {
        case: `plain Map cache heap @${at} (the same records, parsed, by service)`,
        unit: 'MiB',
        median: mapHeap.median,
        p99: mapHeap.max,
        n: repeats,
        note: spread,
      },
      {
        case: `ratio view heap / plain Map heap @${at}`,
        unit: 'x',
        median: heapRatio,
        target: '<= 1.2x',
        met: heapRatio <= 1.2,
      },
      {
        case: `RSS growth: client-mode app with its view @${at}`,
        unit: 'MiB',
        median: viewRss.median,
        p99: viewRss.max,
        n: repeats,
        note: `${spread}; process RSS after a full GC minus before the app (includes the app)`,
      },
      {
        case: `RSS growth: plain Map cache @${at}`,
        unit: 'MiB',
        median: mapRss.median,
        p99: mapRss.max,
        n: repeats,
        note: spread,
      },
    );
    log(
      `@${at}: startup ${startup.median.toFixed(0)} ms; heap view ${viewHeap.median.toFixed(1)} MiB ` +
        `vs Map ${mapHeap.median.toFixed(1)} MiB (${heapRatio.toFixed(2)}x); RSS +${viewRss.median.toFixed(1)} ` +
        `vs +${mapRss.median.toFixed(1)} MiB`,
    );
  }
  client.disconnect();
  return { rows };
}
