// The job guard and module bootstrap: NodePool.checkJobAvailable() calls per second (a real
// NodePool over a live RegistryView), and the cost DiscoveryModule adds to creating and
// initialising a Nest application context.
import 'reflect-metadata';
import { performance } from 'node:perf_hooks';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { DiscoveryModule } from 'nestjs-redis-discovery';
import { HashRing } from '../dist/node-pool/hash-ring.js';
import { nodePoolOver } from './lib/library.mjs';
import { summarize } from './lib/stats.mjs';

/** ns per call of `body(i)`, one sample per batch of `size` calls. */
function batches(body, { size, count, warmup = 3 }) {
  const samples = [];
  let sink = 0;
  for (let b = 0; b < warmup + count; b++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < size; i++) if (body(i)) sink++;
    if (b >= warmup) samples.push(Number(process.hrtime.bigint() - start) / size);
  }
  if (sink < 0) console.log(sink); // keeps the loop from being optimised away
  return summarize(samples);
}

function guard(quick) {
  const { pool, nodeIds } = nodePoolOver(
    Array.from({ length: 10 }, (_, i) => `node-${i}`),
    'node-3',
  );
  const jobs = Array.from({ length: 64 }, (_, i) => `job-${i}`);
  const owned = jobs.filter((job) => pool.checkJobAvailable(job)).length;
  const check = batches((i) => pool.checkJobAvailable(jobs[i & 63]), {
    size: 1_000_000,
    count: quick ? 5 : 20,
  });
  const ring = new HashRing(nodeIds);
  const uncached = batches((i) => ring.owner(jobs[i & 63]) === 'node-3', {
    size: 100_000,
    count: quick ? 3 : 10,
  });
  return { check, uncached, owned };
}

async function bootstrap(imports) {
  class App {}
  Module({ imports })(App);
  const startedAt = performance.now();
  const app = await NestFactory.createApplicationContext(App, {
    logger: false,
    abortOnError: false,
  });
  await app.init();
  const ms = performance.now() - startedAt;
  await app.close();
  return ms;
}

export async function run({ redisUrl, quick, log }) {
  const { check, uncached, owned } = guard(quick);
  log(
    `checkJobAvailable: ${(1e3 / check.median).toFixed(1)} M calls/s (${owned}/64 jobs owned here)`,
  );

  const variants = {
    'empty app': () => [],
    'with DiscoveryModule (in-memory)': () => [DiscoveryModule.forRoot({})],
    'with DiscoveryModule (Redis)': () => [
      DiscoveryModule.forRoot({ redis: redisUrl, keyPrefix: 'boot' }),
    ],
  };
  const times = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  const rounds = quick ? 8 : 20;
  for (let round = -3; round < rounds; round++) {
    for (const [name, imports] of Object.entries(variants)) {
      const ms = await bootstrap(imports());
      if (round >= 0) times[name].push(ms); // the first 3 rounds warm up
    }
  }
  const boot = Object.fromEntries(Object.entries(times).map(([k, v]) => [k, summarize(v)]));
  const overhead = (name) => boot[name].median - boot['empty app'].median;
  log(
    `bootstrap overhead: in-memory ${overhead('with DiscoveryModule (in-memory)').toFixed(1)} ms, Redis ${overhead('with DiscoveryModule (Redis)').toFixed(1)} ms`,
  );
  return {
    rows: [
      {
        case: 'NodePool.checkJobAvailable(): calls per second',
        unit: 'Mops',
        median: 1e3 / check.median,
        p99: 1e3 / check.p99,
        n: check.n,
        target: '>= 5M/s',
        met: 1e3 / check.median >= 5,
        note: `${check.median.toFixed(1)} ns per call (p99 of batches ${check.p99.toFixed(1)} ns); batches of 1M calls, 10-node pool, 64 jobs; p99 column = slowest batch`,
      },
      {
        case: 'for comparison: HashRing.owner() without the cache',
        unit: 'Mops',
        median: 1e3 / uncached.median,
        p99: 1e3 / uncached.p99,
        n: uncached.n,
        note: `${uncached.median.toFixed(0)} ns per call (SHA-256 of the job name)`,
      },
      ...Object.entries(boot).map(([name, s]) => ({
        case: `createApplicationContext + init: ${name}`,
        unit: 'ms',
        median: s.median,
        p99: s.p99,
        n: s.n,
      })),
      {
        case: 'bootstrap overhead of DiscoveryModule (in-memory), medians',
        unit: 'ms',
        median: overhead('with DiscoveryModule (in-memory)'),
        n: rounds,
        target: '< 20 ms',
        met: overhead('with DiscoveryModule (in-memory)') < 20,
      },
      {
        case: 'bootstrap overhead of DiscoveryModule (Redis, local server), medians',
        unit: 'ms',
        median: overhead('with DiscoveryModule (Redis)'),
        n: rounds,
      },
    ],
  };
}
