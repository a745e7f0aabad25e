// The registry on Redis: each call is one script run (or one pipelined read) on the keys of one
// namespace; job claims are delegated to RedisJobClaims. The rules live in redis-scripts.ts.
import { DuplicateNodeIdError } from '../common/errors.js';
import { describeClient, disconnect, type RedisClient } from './redis-client.js';
import { RedisJobClaims } from './redis-job-claims.js';
import { RedisScript, type ScriptReply } from './redis-script.js';
import { BEAT_SCRIPT, DEREGISTER_SCRIPT, REAP_SCRIPT } from './redis-scripts.js';
import { FETCH_NODE_SCRIPT, SCOPE_SCRIPT, VERSION_SCRIPT } from './registry-read-scripts.js';
import { readPages } from './redis-snapshot.js';
import { readPage, readState } from './script-replies.js';
import { subscribeChannel } from './redis-subscription.js';
import type { RegistryKeys } from './registry-keys.js';
import type {
  BeatRequest,
  BeatResult,
  ClaimRequest,
  ClaimResult,
  FetchResult,
  ReapResult,
  RegistryStore,
  RegistryVersion,
  ReleaseResult,
  ScopeRead,
  TickRecord,
} from './registry-store.interface.js';

const beatScript = new RedisScript(BEAT_SCRIPT);
const deregisterScript = new RedisScript(DEREGISTER_SCRIPT);
const reapScript = new RedisScript(REAP_SCRIPT);
const scopeScript = new RedisScript(SCOPE_SCRIPT);
const versionScript = new RedisScript(VERSION_SCRIPT);
const fetchNodeScript = new RedisScript(FETCH_NODE_SCRIPT);

export interface RedisRegistryStoreOptions {
  client: RedisClient;
  /** Whether `close()` may quit `client` (true when the module opened it). */
  ownsClient: boolean;
  keys: RegistryKeys;
  pubSubEnabled: boolean;
}

export class RedisRegistryStore implements RegistryStore {
  readonly kind = 'redis' as const;
  readonly address: string;
  lastConnectionError: string | undefined;
  private readonly subscriptions = new Set<() => void>();
  private readonly registryKeys: string[];
  private readonly claims: RedisJobClaims;
  /** The tag Redis last confirmed for each node this store beats for: no need to resend it. */
  private readonly stored = new Map<string, string>();
  private readonly noteError = (error: Error) => (this.lastConnectionError = error.message);

  constructor(private readonly options: RedisRegistryStoreOptions) {
    const { keys } = options;
    this.registryKeys = [keys.nodes, keys.deadlines, keys.meta];
    this.claims = new RedisJobClaims(options.client);
    this.address = describeClient(options.client);
    // An app's own client keeps its own error handling; only the module's clients are watched.
    if (options.ownsClient) options.client.on('error', this.noteError);
  }

  get client(): RedisClient {
    return this.options.client;
  }

  private get channel(): string {
    return this.options.pubSubEnabled ? this.options.keys.channel : '';
  }

  async beat(request: BeatRequest): Promise<BeatResult> {
    const { nodeId, instance, record, tag, pool, services, ttl, scope = [] } = request;
    const owner = `${instance} ${tag}`;
    const send = (withRecord: boolean) =>
      beatScript.list(this.client, this.registryKeys, [
        nodeId,
        owner,
        ttl,
        this.channel,
        ...(withRecord ? [record, pool, services.length, ...services] : ['', '', 0]),
        ...scope,
      ]);
    let reply = await send(this.stored.get(nodeId) !== tag);
    // Redis lost the record (or this process never wrote it): send it, once.
    if (reply[0] === 'resend') reply = await send(true);
    const [outcome, epoch, version, serverTime, deadline, nextDeadline, ...rest] = reply;
    if (outcome === 'duplicate') throw new DuplicateNodeIdError(nodeId);
    this.stored.set(nodeId, tag);
    const state = readState(epoch, version, serverTime, rest, scope);
    return {
      ...state,
      outcome: outcome as BeatResult['outcome'],
      deadline: Number(deadline),
      nextDeadline: nextDeadline === null || nextDeadline === false ? null : Number(nextDeadline),
      removed: rest.slice(1 + scope.length).map(String),
    };
  }

  async deregister(nodeId: string, instance: string): Promise<boolean> {
    this.stored.delete(nodeId);
    const removed = await deregisterScript.run(this.client, this.registryKeys, [
      nodeId,
      instance,
      this.channel,
    ]);
    return Number(removed) === 1;
  }

  async reap(scope: string[] = []): Promise<ReapResult> {
    const reply = await reapScript.list(this.client, this.registryKeys, [this.channel, ...scope]);
    const [epoch, version, serverTime, nextDeadline, ...rest] = reply;
    return {
      ...readState(epoch, version, serverTime, rest, scope),
      nextDeadline: nextDeadline === null || nextDeadline === false ? null : Number(nextDeadline),
      removed: rest.slice(1 + scope.length).map(String),
    };
  }

  async snapshot(
    now: number,
    onPage: (records: string[], tags: string[]) => void,
    scope: string[] = [],
  ): Promise<RegistryVersion> {
    // The script is loaded: the caller read the state with it just before.
    const [epoch, version, serverTime, ...rest] = (await readPages(
      this.client,
      this.options.keys,
      now,
      onPage,
      (pipeline) =>
        pipeline.evalsha(
          versionScript.sha,
          this.registryKeys.length,
          ...this.registryKeys,
          ...scope,
        ),
    )) as ScriptReply;
    return readState(epoch, version, serverTime, rest, scope);
  }

  async fetchScope(kind: 'svc' | 'pool', name: string, scope: string[] = []): Promise<ScopeRead> {
    const { keys } = this.options;
    const set = (kind === 'svc' ? keys.servicePrefix : keys.poolPrefix) + name;
    const reply = await scopeScript.list(this.client, [...this.registryKeys, set], scope);
    const [epoch, version, serverTime, ...rest] = reply;
    return readPage(epoch, version, serverTime, rest, scope);
  }

  /**
   * Two round trips and no script: the ids of the service, then their records and deadlines in
   * one pipeline; the caller compares the deadlines with Redis time.
   */
  async fetchService(serviceName: string): Promise<FetchResult> {
    const { keys } = this.options;
    const ids = await this.client.smembers(keys.servicePrefix + serviceName);
    if (ids.length === 0) return { records: [], deadlines: [] };
    const replies = await this.client
      .pipeline()
      .hmget(keys.nodes, ...ids)
      .zmscore(keys.deadlines, ...ids)
      .exec();
    const [recordsReply, deadlinesReply] = replies ?? [];
    if (recordsReply?.[0]) throw recordsReply[0];
    if (deadlinesReply?.[0]) throw deadlinesReply[0];
    const found = recordsReply![1] as Array<string | null>;
    const until = deadlinesReply![1] as Array<string | null>;
    const result: FetchResult = { records: [], deadlines: [] };
    for (let i = 0; i < ids.length; i++) {
      if (found[i] === null || until[i] === null) continue;
      result.records.push(found[i]!);
      result.deadlines.push(Number(until[i]));
    }
    return result;
  }

  async fetchNode(nodeId: string): Promise<string | undefined> {
    const { keys } = this.options;
    const record = await fetchNodeScript.run(this.client, [keys.nodes, keys.deadlines], [nodeId]);
    return typeof record === 'string' ? record : undefined;
  }

  async version(scope: string[] = []): Promise<RegistryVersion> {
    const reply = await versionScript.list(this.client, this.registryKeys, scope);
    const [epoch, version, serverTime, ...rest] = reply;
    return readState(epoch, version, serverTime, rest, scope);
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
    const { ready, end } = subscribeChannel(
      this.client,
      this.options.keys.channel,
      onMessage,
      onResubscribed,
      this.noteError,
    );
    // Tracked at once: close() ends a subscription still trying to connect.
    this.subscriptions.add(end);
    try {
      await ready;
    } catch (error) {
      this.subscriptions.delete(end);
      throw error;
    }
    return async () => {
      if (this.subscriptions.delete(end)) end();
    };
  }

  async close(): Promise<void> {
    this.client.off('error', this.noteError);
    for (const end of this.subscriptions) end();
    this.subscriptions.clear();
    if (!this.options.ownsClient) return;
    const client = this.client;
    // QUIT waits for the server; a client that is not connected would wait forever (or retry).
    if (client.status === 'ready') await client.quit().catch(() => disconnect(client));
    else disconnect(client);
  }
}
