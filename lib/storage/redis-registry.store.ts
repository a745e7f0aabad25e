import { randomUUID } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { DuplicateNodeIdError } from '../common/errors.js';
import type {
  BeatResult,
  ClaimRequest,
  ClaimResult,
  FetchResult,
  ReapResult,
  RegistrySnapshot,
  RegistryStore,
  RegistryVersion,
  ReleaseResult,
  TickRecord,
} from './registry-store.interface.js';
import { jobKeys, type RegistryKeys } from './registry-keys.js';
import {
  CLAIM_SCRIPT,
  RECENT_CLAIMS_SCRIPT,
  RELEASE_RUN_SCRIPT,
  RENEW_RUN_SCRIPT,
  parseTickRecord,
} from './job-scripts.js';
import {
  BEAT_SCRIPT,
  DEREGISTER_SCRIPT,
  FETCH_NODE_SCRIPT,
  FETCH_SERVICE_SCRIPT,
  REAP_SCRIPT,
  RedisScript,
  SNAPSHOT_SCRIPT,
  VERSION_SCRIPT,
} from './redis-scripts.js';

type Client = Redis | Cluster;
type Reply = Array<string | number | null>;

const beat = new RedisScript(BEAT_SCRIPT);
const deregister = new RedisScript(DEREGISTER_SCRIPT);
const reap = new RedisScript(REAP_SCRIPT);
const snapshot = new RedisScript(SNAPSHOT_SCRIPT);
const version = new RedisScript(VERSION_SCRIPT);
const fetchService = new RedisScript(FETCH_SERVICE_SCRIPT);
const fetchNode = new RedisScript(FETCH_NODE_SCRIPT);
const claim = new RedisScript(CLAIM_SCRIPT);
const releaseRun = new RedisScript(RELEASE_RUN_SCRIPT);
const renewRun = new RedisScript(RENEW_RUN_SCRIPT);
const recentClaims = new RedisScript(RECENT_CLAIMS_SCRIPT);

/** Nodes expired at once that one reap removes; the rest go in the next run, right after. */
const REAP_BATCH = 100;

export interface RedisRegistryStoreOptions {
  client: Client;
  /** Whether `close()` may quit `client` (true when the module opened it). */
  ownsClient: boolean;
  keys: RegistryKeys;
  pubSubEnabled: boolean;
}

export class RedisRegistryStore implements RegistryStore {
  readonly kind = 'redis' as const;
  private readonly subscribers = new Set<Client>();
  private readonly registryKeys: string[];

  constructor(private readonly options: RedisRegistryStoreOptions) {
    const { keys } = options;
    this.registryKeys = [keys.nodes, keys.deadlines, keys.meta, keys.owners];
  }

  get client(): Client {
    return this.options.client;
  }

  private get channel(): string {
    return this.options.pubSubEnabled ? this.options.keys.channel : '';
  }

  async beat(
    nodeId: string,
    instance: string,
    record: string,
    services: string[],
    ttl: number,
  ): Promise<BeatResult> {
    const reply = await this.run(beat, this.registryKeys, [
      nodeId,
      instance,
      record,
      ttl,
      randomUUID(),
      this.channel,
      REAP_BATCH,
      ...services,
    ]);
    const [outcome, epoch, registryVersion, serverTime, deadline, nextDeadline, ...removed] = reply;
    if (outcome === 'duplicate') throw new DuplicateNodeIdError(nodeId);
    return {
      outcome: outcome as BeatResult['outcome'],
      epoch: String(epoch),
      version: Number(registryVersion),
      serverTime: Number(serverTime),
      deadline: Number(deadline),
      nextDeadline: nextDeadline === null ? null : Number(nextDeadline),
      removed: removed.map(String),
    };
  }

  async deregister(nodeId: string, instance: string): Promise<boolean> {
    const removed = await this.runScalar(deregister, this.registryKeys, [
      nodeId,
      instance,
      randomUUID(),
      this.channel,
    ]);
    return Number(removed) === 1;
  }

  async reap(): Promise<ReapResult> {
    const reply = await this.run(reap, this.registryKeys, [randomUUID(), this.channel, REAP_BATCH]);
    const [epoch, registryVersion, serverTime, nextDeadline, ...removed] = reply;
    return {
      epoch: String(epoch),
      version: Number(registryVersion),
      serverTime: Number(serverTime),
      nextDeadline: nextDeadline === null ? null : Number(nextDeadline),
      removed: removed.map(String),
    };
  }

  async snapshot(): Promise<RegistrySnapshot> {
    const [epoch, registryVersion, serverTime, ...records] = await this.run(
      snapshot,
      this.registryKeys,
      [],
    );
    return {
      epoch: String(epoch),
      version: Number(registryVersion),
      serverTime: Number(serverTime),
      records: records.map(String),
    };
  }

  async version(): Promise<RegistryVersion> {
    const [epoch, registryVersion, serverTime] = await this.run(version, this.registryKeys, []);
    return {
      epoch: String(epoch),
      version: Number(registryVersion),
      serverTime: Number(serverTime),
    };
  }

  async fetchService(serviceName: string): Promise<FetchResult> {
    const { keys } = this.options;
    const [serverTime, ...records] = await this.run(
      fetchService,
      [keys.servicePrefix + serviceName, keys.nodes, keys.deadlines],
      [],
    );
    return { serverTime: Number(serverTime), records: records.map(String) };
  }

  async fetchNode(nodeId: string): Promise<string | undefined> {
    const { keys } = this.options;
    const record = await this.runScalar(fetchNode, [keys.nodes, keys.deadlines], [nodeId]);
    return typeof record === 'string' ? record : undefined;
  }

  async claimTick(request: ClaimRequest): Promise<ClaimResult> {
    const candidates = request.catchup?.ticks.flatMap((c) => [c.tick, c.signature]) ?? [];
    const reply = await this.run(claim, jobKeys(request.jobKey), [
      request.tick,
      request.nodeId,
      request.signature,
      request.notAfter,
      request.retention,
      request.overlap,
      request.runLease,
      request.override ?? '',
      request.catchup ? Math.max(0, Math.round(request.catchup.window)) : '',
      ...candidates,
    ]);
    const [status, tick, token, holder, signature, serverTime, cancelled, takenAs, ...caught] =
      reply;
    const catchup: ClaimResult['catchup'] = [];
    for (let i = 0; i + 1 < caught.length; i += 2) {
      catchup.push({ tick: Number(caught[i]), token: Number(caught[i + 1]) });
    }
    return {
      status: String(status) as ClaimResult['status'],
      tick: Number(tick),
      token: Number(token),
      holder: String(holder),
      signature: String(signature ?? ''),
      serverTime: Number(serverTime),
      catchup,
      cancelled: cancelled ? Number(cancelled) : undefined,
      takenAs: takenAs ? (String(takenAs) as ClaimResult['takenAs']) : undefined,
    };
  }

  async releaseRun(
    jobKey: string,
    token: number,
    nodeId: string,
    runLease: number,
    retention: number,
    takeNext: boolean,
  ): Promise<ReleaseResult> {
    const [held, tick, next] = await this.run(releaseRun, jobKeys(jobKey), [
      token,
      nodeId,
      runLease,
      retention,
      takeNext ? 1 : 0,
    ]);
    return {
      held: Number(held) === 1,
      next: tick === undefined ? undefined : { tick: Number(tick), token: Number(next) },
    };
  }

  async renewRun(jobKey: string, token: number, runLease: number): Promise<boolean> {
    return Number(await this.runScalar(renewRun, jobKeys(jobKey), [token, runLease])) === 1;
  }

  async recentClaims(jobKey: string, limit: number): Promise<TickRecord[]> {
    const reply = await this.run(recentClaims, jobKeys(jobKey), [limit]);
    const records: TickRecord[] = [];
    for (let i = 0; i + 1 < reply.length; i += 2) {
      const record = parseTickRecord(Number(reply[i]), String(reply[i + 1]));
      if (record) records.push(record);
    }
    return records;
  }

  async subscribe(
    onMessage: (message: string) => void,
    onResubscribed: () => void,
  ): Promise<() => Promise<void>> {
    // A connection in subscriber mode cannot run commands: give pub/sub its own connection.
    const subscriber = (this.client as Redis).duplicate() as Client;
    this.subscribers.add(subscriber);
    const channel = this.options.keys.channel;
    let readyOnce = false;
    subscriber.on('message', (from: string, message: string) => {
      if (from === channel) onMessage(message);
    });
    // ioredis resubscribes by itself after a reconnect; whatever was published meanwhile is lost,
    // so the owner resyncs its view.
    subscriber.on('ready', () => {
      if (readyOnce) onResubscribed();
      readyOnce = true;
    });
    // A Cluster moves a lost subscription to another node without a new 'ready'.
    subscriber.on('-node', () => onResubscribed());
    subscriber.on('error', () => undefined); // reconnects are handled by ioredis; errors are surfaced by commands
    await subscriber.subscribe(channel);
    readyOnce = true;
    return async () => {
      if (!this.subscribers.delete(subscriber)) return;
      subscriber.removeAllListeners('message');
      disconnect(subscriber);
    };
  }

  async close(): Promise<void> {
    for (const subscriber of this.subscribers) disconnect(subscriber);
    this.subscribers.clear();
    if (!this.options.ownsClient) return;
    const client = this.client as Redis;
    // QUIT waits for the server; a client that is not connected would wait forever (or retry).
    if (client.status === 'ready') await client.quit().catch(() => disconnect(client));
    else disconnect(client);
  }

  private async run(
    script: RedisScript,
    keys: string[],
    args: Array<string | number>,
  ): Promise<Reply> {
    const reply = await this.runScalar(script, keys, args);
    return reply as Reply;
  }

  private async runScalar(
    script: RedisScript,
    keys: string[],
    args: Array<string | number>,
  ): Promise<unknown> {
    try {
      return await this.client.evalsha(script.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.client.eval(script.source, keys.length, ...keys, ...args);
    }
  }
}

/**
 * ioredis arms a 2 s timer in `disconnect()` that only the socket's close clears: on a client whose
 * socket is already closed it would hold the process open for nothing.
 */
function disconnect(client: Client): void {
  if (client.status !== 'end') client.disconnect();
}
