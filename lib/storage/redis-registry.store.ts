import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
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
import type { RegistryKeys } from './registry-keys.js';
import { RedisJobClaims } from './redis-job-claims.js';
import { RedisScript, type RedisClient } from './redis-script.js';
import {
  BEAT_SCRIPT,
  DEREGISTER_SCRIPT,
  FETCH_NODE_SCRIPT,
  FETCH_SERVICE_SCRIPT,
  REAP_SCRIPT,
  SNAPSHOT_SCRIPT,
  VERSION_SCRIPT,
} from './redis-scripts.js';

type Client = RedisClient;

const beat = new RedisScript(BEAT_SCRIPT);
const deregister = new RedisScript(DEREGISTER_SCRIPT);
const reap = new RedisScript(REAP_SCRIPT);
const snapshot = new RedisScript(SNAPSHOT_SCRIPT);
const version = new RedisScript(VERSION_SCRIPT);
const fetchService = new RedisScript(FETCH_SERVICE_SCRIPT);
const fetchNode = new RedisScript(FETCH_NODE_SCRIPT);

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
  readonly address: string;
  lastConnectionError: string | undefined;
  private readonly subscribers = new Set<Client>();
  private readonly registryKeys: string[];
  private readonly claims: RedisJobClaims;
  private readonly noteError = (error: Error) => (this.lastConnectionError = error.message);

  constructor(private readonly options: RedisRegistryStoreOptions) {
    const { keys } = options;
    this.registryKeys = [keys.nodes, keys.deadlines, keys.meta, keys.owners];
    this.claims = new RedisJobClaims(options.client);
    this.address = describeClient(options.client);
    // An app's own client keeps its own error handling; only the module's clients are watched.
    if (options.ownsClient) options.client.on('error', this.noteError);
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
    tag: string,
    services: string[],
    ttl: number,
  ): Promise<BeatResult> {
    const reply = await this.script(beat, this.registryKeys, [
      nodeId,
      instance,
      tag,
      record,
      ttl,
      randomUUID(),
      this.channel,
      REAP_BATCH,
      ...services,
    ]);
    const [
      outcome,
      epoch,
      registryVersion,
      serverTime,
      deadline,
      nextDeadline,
      digest,
      ...removed
    ] = reply;
    if (outcome === 'duplicate') throw new DuplicateNodeIdError(nodeId);
    return {
      outcome: outcome as BeatResult['outcome'],
      epoch: String(epoch),
      version: Number(registryVersion),
      digest: Number(digest),
      serverTime: Number(serverTime),
      deadline: Number(deadline),
      nextDeadline: nextDeadline === null ? null : Number(nextDeadline),
      removed: removed.map(String),
    };
  }

  async deregister(nodeId: string, instance: string): Promise<boolean> {
    const removed = await this.scalar(deregister, this.registryKeys, [
      nodeId,
      instance,
      randomUUID(),
      this.channel,
    ]);
    return Number(removed) === 1;
  }

  async reap(): Promise<ReapResult> {
    const reply = await this.script(reap, this.registryKeys, [
      randomUUID(),
      this.channel,
      REAP_BATCH,
    ]);
    const [epoch, registryVersion, serverTime, nextDeadline, digest, ...removed] = reply;
    return {
      epoch: String(epoch),
      version: Number(registryVersion),
      digest: Number(digest),
      serverTime: Number(serverTime),
      nextDeadline: nextDeadline === null ? null : Number(nextDeadline),
      removed: removed.map(String),
    };
  }

  async snapshot(): Promise<RegistrySnapshot> {
    const [epoch, registryVersion, serverTime, digest, ...pairs] = await this.script(
      snapshot,
      this.registryKeys,
      [],
    );
    const records: string[] = [];
    const tags: string[] = [];
    for (let i = 0; i + 1 < pairs.length; i += 2) {
      records.push(String(pairs[i]));
      tags.push(String(pairs[i + 1]));
    }
    return {
      epoch: String(epoch),
      version: Number(registryVersion),
      digest: Number(digest),
      serverTime: Number(serverTime),
      records,
      tags,
    };
  }

  async version(): Promise<RegistryVersion> {
    const [epoch, registryVersion, serverTime, digest] = await this.script(
      version,
      this.registryKeys,
      [],
    );
    return {
      epoch: String(epoch),
      version: Number(registryVersion),
      digest: Number(digest),
      serverTime: Number(serverTime),
    };
  }

  async fetchService(serviceName: string): Promise<FetchResult> {
    const { keys } = this.options;
    const [serverTime, ...records] = await this.script(
      fetchService,
      [keys.servicePrefix + serviceName, keys.nodes, keys.deadlines],
      [],
    );
    return { serverTime: Number(serverTime), records: records.map(String) };
  }

  async fetchNode(nodeId: string): Promise<string | undefined> {
    const { keys } = this.options;
    const record = await this.scalar(fetchNode, [keys.nodes, keys.deadlines], [nodeId]);
    return typeof record === 'string' ? record : undefined;
  }

  claimTick(request: ClaimRequest): Promise<ClaimResult> {
    return this.claims.claim(request);
  }

  releaseRun(
    jobKey: string,
    token: number,
    nodeId: string,
    runLease: number,
    retention: number,
    takeNext: boolean,
  ): Promise<ReleaseResult> {
    return this.claims.release(jobKey, token, nodeId, runLease, retention, takeNext);
  }

  renewRun(jobKey: string, token: number, runLease: number): Promise<boolean> {
    return this.claims.renew(jobKey, token, runLease);
  }

  recentClaims(jobKey: string, limit: number): Promise<TickRecord[]> {
    return this.claims.recent(jobKey, limit);
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
    // Reconnects are handled by ioredis; errors are surfaced by commands.
    subscriber.on('error', this.noteError);
    try {
      await subscriber.subscribe(channel);
    } catch (error) {
      this.subscribers.delete(subscriber);
      disconnect(subscriber);
      throw error;
    }
    readyOnce = true;
    return async () => {
      if (!this.subscribers.delete(subscriber)) return;
      subscriber.removeAllListeners('message');
      disconnect(subscriber);
    };
  }

  private script(script: RedisScript, keys: string[], args: Array<string | number>) {
    return script.list(this.client, keys, args);
  }

  private scalar(script: RedisScript, keys: string[], args: Array<string | number>) {
    return script.run(this.client, keys, args);
  }

  async close(): Promise<void> {
    this.options.client.off('error', this.noteError);
    for (const subscriber of this.subscribers) disconnect(subscriber);
    this.subscribers.clear();
    if (!this.options.ownsClient) return;
    const client = this.client as Redis;
    // QUIT waits for the server; a client that is not connected would wait forever (or retry).
    if (client.status === 'ready') await client.quit().catch(() => disconnect(client));
    else disconnect(client);
  }
}

/**
 * ioredis arms a 2 s timer in `disconnect()` that only the socket's close clears: on a client whose
 * socket is already closed it would hold the process open for nothing.
 */
function disconnect(client: Client): void {
  if (client.status !== 'end') client.disconnect();
}

/** Where a client connects, for messages: host:port, its sentinels, or its cluster nodes. */
function describeClient(client: Client): string {
  if (client.isCluster) {
    const nodes =
      (client as unknown as { startupNodes?: Array<{ host?: string; port?: number } | string> })
        .startupNodes ?? [];
    return `Redis Cluster ${nodes.map((n) => (typeof n === 'string' ? n : `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}`)).join(', ')}`;
  }
  const { host, port, path, sentinels, name } = (client as Redis).options;
  if (sentinels?.length) {
    return `sentinels ${sentinels.map((s) => `${s.host ?? '127.0.0.1'}:${s.port ?? 26379}`).join(', ')} (master "${name}")`;
  }
  return path ?? `${host ?? '127.0.0.1'}:${port ?? 6379}`;
}
