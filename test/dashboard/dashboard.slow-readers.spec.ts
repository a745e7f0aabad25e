import 'reflect-metadata';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { Module, type INestApplicationContext } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net from 'node:net';
import v8 from 'node:v8';
import vm from 'node:vm';
import {
  DiscoveryDashboardModule,
  DiscoveryModule,
  ServiceDiscovery,
  type DiscoveryDashboardOptions,
} from 'nestjs-redis-discovery';
import { startRedis, waitFor, type RedisHandle } from '../support/redis-harness.js';

/**
 * 14 metadata values of 4000 characters (a record's change event must stay under 64 KB) on each
 * of three peers, whose records do not change: each state is about 170 KB. The node serving the
 * page changes only its `step`, so that its new records (which every view caches) stay small.
 */
const PAD = Object.fromEntries(
  Array.from({ length: 14 }, (_, i) => [`pad${i}`, String(i % 10).repeat(4000)]),
);
const PEERS = ['web-2', 'web-3', 'web-4'];

/** Memory in use (JS heap and buffers) after a full garbage collection, bytes. */
function memoryInUse(): number {
  v8.setFlagsFromString('--expose-gc');
  (vm.runInNewContext('gc') as () => void)();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

/** A client that reads its stream as it comes: the step of every state it got, and their sizes. */
class FastClient {
  readonly steps: number[] = [];
  largestFrame = 0;
  bytes = 0;
  private readonly controller = new AbortController();

  static async open(url: string): Promise<FastClient> {
    const client = new FastClient();
    const response = await fetch(url, { signal: client.controller.signal });
    void client.read(response.body!.getReader());
    return client;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let text = '';
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        text += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = text.indexOf('\n\n')) !== -1) {
          const frame = text.slice(0, end + 2);
          text = text.slice(end + 2);
          this.bytes += frame.length;
          const data = frame.split('\n').find((line) => line.startsWith('data: '));
          if (!data) continue;
          this.largestFrame = Math.max(this.largestFrame, frame.length);
          const nodes = JSON.parse(data.slice(6)).services[0]?.nodes ?? [];
          const step = nodes.find((node: { self: boolean }) => node.self)?.metadata.step;
          if (step !== undefined && Number(step) !== this.steps.at(-1)) {
            this.steps.push(Number(step));
          }
        }
      }
    } catch {
      // aborted at the end of the test, or the app closed
    }
  }

  close(): void {
    this.controller.abort();
  }
}

/** A client that asks for the stream and never reads a byte of it. */
async function openSlowClient(port: number): Promise<net.Socket> {
  const socket = net.connect(port, '127.0.0.1');
  socket.pause();
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(
    'GET /cluster/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n',
  );
  return socket;
}

/** Clients that stop reading, against a real app on a real Redis: what waits for them is bounded. */
describe('live cluster page with slow readers', () => {
  let redis: RedisHandle;
  let namespace = 0;
  const apps: INestApplicationContext[] = [];
  const sockets: net.Socket[] = [];
  const fast: FastClient[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  }, 30_000);
  afterEach(async () => {
    for (const client of fast.splice(0)) client.close();
    for (const socket of sockets.splice(0)) socket.destroy();
    await Promise.all(apps.splice(0).map((app) => app.close()));
  });
  afterAll(async () => {
    await redis?.stop();
  });

  /** The app, and the server side of each event stream it answers, as Node's http gave it. */
  async function startApp(dashboard: DiscoveryDashboardOptions) {
    const keyPrefix = `${redis.keyPrefix}dash-slow-${namespace++}`;
    const discovery = { redis: redis.url, keyPrefix, serviceName: 'web' };
    for (const nodeId of PEERS) {
      @Module({ imports: [DiscoveryModule.forRoot({ ...discovery, nodeId, metadata: PAD })] })
      class PeerModule {}
      const peer = await NestFactory.createApplicationContext(PeerModule, { logger: false });
      apps.push(peer);
      await peer.init();
    }
    @Module({
      imports: [
        DiscoveryModule.forRoot({ ...discovery, nodeId: 'web-1', metadata: { step: '0' } }),
        DiscoveryDashboardModule.forRoot({ maxEvents: 1000, ...dashboard }),
      ],
    })
    class AppModule {}
    const app = await NestFactory.create(AppModule, { logger: false, abortOnError: false });
    apps.push(app);
    const streams: ServerResponse[] = [];
    (app.getHttpServer() as Server).on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/cluster/events') streams.push(res);
    });
    await app.listen(0, '127.0.0.1');
    const url = await app.getUrl();
    const self = app.get(ServiceDiscovery);
    /** Changes the state, then waits until every fast client has it. */
    const step = async (n: number) => {
      await self.updateMetadata({ step: String(n) });
      await waitFor(() => fast.every((client) => client.steps.at(-1) === n), {
        timeout: 10_000,
        message: `a fast client never got step ${n}`,
      });
    };
    return { app, url, port: Number(new URL(url).port), streams, step };
  }

  it('a client that stops reading gets only the latest state: its backlog stays under one state past the high-water mark, fast clients get every change', async () => {
    const { url, port, streams, step } = await startApp({ slowClientTimeout: 600_000 });
    const SLOW = 10;
    const FAST = 3;
    const STEPS = 60;
    for (let i = 0; i < FAST; i++) fast.push(await FastClient.open(`${url}/cluster/events`));
    for (let i = 0; i < SLOW; i++) sockets.push(await openSlowClient(port));
    await waitFor(() => streams.length === SLOW + FAST, {
      message: 'the server never answered every stream',
    });
    // The fast clients asked first (each fetch resolves once the headers are in).
    const slow = streams.slice(FAST);
    // Memory is compared between the middle and the end: by the middle every slow stream has
    // backed up (the kernel takes about 4 MB each), so what the process would queue for them
    // grows from there, state by state.
    let memoryHalfway = 0;
    for (let n = 1; n <= STEPS; n++) {
      await step(n);
      if (n === STEPS / 2) memoryHalfway = memoryInUse();
    }
    const grown = memoryInUse() - memoryHalfway;

    const backlogs = slow.map((res) => res.writableLength);
    const largest = Math.max(...fast.map((client) => client.largestFrame));
    const bound = streams[0].writableHighWaterMark + largest;
    const sentToEach = fast[0].bytes;
    process.stdout.write(
      `dashboard slow readers: ${SLOW} clients not reading, ${STEPS} states of ${largest} B; ` +
        `each fast client got ${sentToEach} B; backlog per slow stream max ${Math.max(...backlogs)} B ` +
        `(bound ${bound} B); memory in use ${(grown / 1e6).toFixed(1)} MB more over the last ${STEPS / 2} states\n`,
    );
    // Every fast client got every change, in order.
    const every = Array.from({ length: STEPS }, (_, i) => i + 1);
    for (const client of fast) expect(client.steps.slice(-STEPS)).toEqual(every);
    // Each slow stream backed up (the kernel's buffers for it are full: the bound below is not
    // vacuous), though the states sent meanwhile add up to many times the bound; what waits for
    // it in this process is at most the high-water mark plus one state.
    expect(slow.map((res) => res.writableNeedDrain)).toEqual(Array(SLOW).fill(true));
    expect(streams.slice(0, FAST).map((res) => res.writableNeedDrain)).toEqual(
      Array(FAST).fill(false),
    );
    expect(sentToEach).toBeGreaterThan(10 * bound);
    for (const backlog of backlogs) expect(backlog).toBeLessThanOrEqual(bound);
    // Nor anywhere before the response: the process keeps no queue of states for them (with one,
    // as when Nest's @Sse() wrote the stream, this test measured 85 MB more over the last
    // 30 states).
    expect(grown).toBeLessThan(SLOW * bound + 8e6);
    // Still open: with a long slowClientTimeout a slow stream is kept, with no more than that.
    expect(slow.every((res) => !res.destroyed)).toBe(true);
  }, 90_000);

  it('closes a stream whose client has not caught up for slowClientTimeout; a fast client goes on', async () => {
    const { url, port, streams, step } = await startApp({ slowClientTimeout: 1000 });
    fast.push(await FastClient.open(`${url}/cluster/events`));
    sockets.push(await openSlowClient(port));
    await waitFor(() => streams.length === 2, { message: 'the server never answered both' });
    const slow = streams[1];
    let n = 0;
    // Until the kernel's buffers for the slow client are full and the server's write backs up.
    while (!slow.writableNeedDrain && !slow.destroyed) {
      await step(++n);
      expect(n).toBeLessThan(200);
    }
    const closed = new Promise((resolve) => slow.once('close', resolve));
    if (!slow.destroyed) await closed;
    expect(slow.destroyed).toBe(true);
    expect(streams[0].destroyed).toBe(false);
    await step(++n);
    expect(fast[0].steps.slice(-n)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
  }, 60_000);
});
