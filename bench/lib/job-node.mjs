// One node process of the job-path benchmark (bench/jobs.mjs): `jobs` distributed jobs and as many
// plain @Cron jobs, all '* * * * * *', declared interleaved (d0, p0, d1, p1, ...) so that both kinds
// fire in the same timer phase of the same process under the same load. Each method records when it
// started against its tick (sub-millisecond wall clock); nothing is printed while it records. Last,
// one hand-written distributed cron (SET NX PX + INCR) as the floor of a claim in that instant.
// Config: JOB_NODE_CONFIG (JSON: { discovery, jobs, profileSpans }). Commands on stdin, one a line:
//   record   start recording start delays
//   report   stop recording; print {event:'report', distributed, plain, plainLast, runs, ...}
//   stream   print every distributed run at once as {event:'run', job, tick, at} (the kill phase)
//   exit     exit at once (a --cpu-prof profile is written)
// Prints {event:'ready'} once started and {event:'pool', size} whenever its pool's size changes.
import 'reflect-metadata';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Injectable, Module } from '@nestjs/common';
import { Redis } from 'ioredis';
import { NestFactory } from '@nestjs/core';
import { Cron, ScheduleModule } from '@nestjs/schedule';
import {
  DiscoveryModule,
  DistributedJob,
  DistributedJobs,
  getJobContext,
  NodePool,
} from 'nestjs-redis-discovery';

const config = JSON.parse(process.env.JOB_NODE_CONFIG ?? '{}');
const nodeId = config.discovery.nodeId;
const print = (event) => process.stdout.write(`${JSON.stringify({ node: nodeId, ...event })}\n`);
/** Wall-clock ms with a fraction (cron fires by the wall clock; Date.now() has whole ms only). */
const wallNow = () => performance.timeOrigin + performance.now();

let recording = false;
let streaming = false;
const distributed = [];
const plain = [];
/** Per second: the start delay of the plain job that started last (when that instant's timers ended). */
const plainLast = new Map();
/** Distributed runs while recording: job index, tick, start delay (flat triples). */
const runs = [];
const EVERY_SECOND = '* * * * * *';

/**
 * The hand-written distributed cron, declared after every other job (it fires when the instant's
 * timers are done): `SET <job>:<tick> <node> NX PX`, then `INCR` of a token by the node that got
 * it, on a connection of its own, and the run starts. Its start delay is the floor of any claim.
 */
const hand = [];
const handClient = new Redis(config.discovery.redis);
const HAND_KEY = `${config.discovery.keyPrefix}:hand`;

class Jobs {}
for (let i = 0; i < config.jobs; i++) {
  const d = `d${i}`;
  Jobs.prototype[d] = function () {
    const at = wallNow();
    const tick = getJobContext().tick.getTime();
    if (streaming) print({ event: 'run', job: i, tick, at: Math.round(at) });
    if (!recording) return;
    distributed.push(at - tick);
    runs.push(i, tick);
  };
  const p = `p${i}`;
  Jobs.prototype[p] = function () {
    const at = wallNow();
    if (!recording) return;
    const second = Math.floor(at / 1000) * 1000;
    plain.push(at - second);
    plainLast.set(second, Math.max(plainLast.get(second) ?? 0, at - second));
  };
  for (const [name, decorators] of [
    [d, [DistributedJob({ name: `job-${i}` }), Cron(EVERY_SECOND, { name: d })]],
    [p, [Cron(EVERY_SECOND, { name: p })]],
  ]) {
    for (const decorate of decorators) {
      const descriptor = Object.getOwnPropertyDescriptor(Jobs.prototype, name);
      Object.defineProperty(
        Jobs.prototype,
        name,
        decorate(Jobs.prototype, name, descriptor) ?? descriptor,
      );
    }
  }
}
Jobs.prototype.hand = async function () {
  const tick = Math.floor(wallNow() / 1000) * 1000;
  const won = await handClient.set(`${HAND_KEY}:${tick}`, nodeId, 'PX', 10_000, 'NX');
  if (won !== 'OK') return;
  await handClient.incr(`${HAND_KEY}:token`);
  if (recording) hand.push(wallNow() - tick);
};
{
  const descriptor = Object.getOwnPropertyDescriptor(Jobs.prototype, 'hand');
  Object.defineProperty(
    Jobs.prototype,
    'hand',
    Cron(EVERY_SECOND, { name: 'hand' })(Jobs.prototype, 'hand', descriptor) ?? descriptor,
  );
}
Injectable()(Jobs);

class AppModule {}
Module({
  imports: [ScheduleModule.forRoot(), DiscoveryModule.forRoot(config.discovery)],
  providers: [Jobs],
})(AppModule);

const warnings = [];
const app = await NestFactory.createApplicationContext(AppModule, {
  logger: {
    log() {},
    debug() {},
    verbose() {},
    warn: (message) => warnings.length < 20 && warnings.push(String(message)),
    error: (message) => warnings.length < 20 && warnings.push(String(message)),
  },
});
await app.init();
const jobs = app.get(DistributedJobs);
const pool = app.get(NodePool);
print({ event: 'ready' });
let poolSize = -1;
setInterval(() => {
  const size = pool.getNodes().length;
  if (size !== poolSize) print({ event: 'pool', size: (poolSize = size) });
}, 50).unref();

function counts() {
  const skipped = {};
  let ran = 0;
  let owned = 0;
  const owners = {};
  for (const job of jobs.list()) {
    ran += job.runs;
    if (job.owner === nodeId) owned += 1;
    owners[job.name] = job.owner;
    for (const [reason, n] of Object.entries(job.skipped))
      skipped[reason] = (skipped[reason] ?? 0) + n;
  }
  return { ran, owned, owners, skipped };
}

let before = counts();
createInterface({ input: process.stdin }).on('line', (line) => {
  const command = line.trim();
  if (command === 'record') {
    before = counts();
    recording = true;
  } else if (command === 'report') {
    recording = false;
    const after = counts();
    const skipped = Object.fromEntries(
      Object.entries(after.skipped).map(([k, n]) => [k, n - (before.skipped[k] ?? 0)]),
    );
    print({
      event: 'report',
      distributed,
      plain,
      plainLast: [...plainLast.values()],
      hand,
      runs,
      skipped,
      owned: after.owned,
      owners: after.owners,
      warnings,
    });
    distributed.length = plain.length = runs.length = hand.length = 0;
    plainLast.clear();
  } else if (command === 'stream') {
    streaming = true;
  } else if (command === 'exit') {
    process.exit(0); // writes a --cpu-prof profile, unlike a signal
  }
});
