// The registry on Redis: each call is one script run (or one pipelined read) on the keys of one
// namespace. The rules live in the scripts of `lua/` (beat-4, deregister-4, reap-4, ...).
import { DuplicateNodeIdError, NodeDeregisteredError } from '../../common/errors.js';
import type { RegistryKeys } from '../registry-keys.js';
import type {
  BeatRequest,
  BeatResult,
  FetchResult,
  ReapResult,
  RegistryStore,
  RegistryVersion,
  RecountResult,
  ScopeRead,
} from '../registry-store.interface.js';
import { ownerField } from '../registry-owner.js';
import type { RecordSigner } from '../../common/record-signer.js';
import { RecordLeases } from '../record-lease.js';
import { describeClient, disconnect, type RedisClient } from './redis-client.js';
import { RedisScript, type ScriptReply } from './redis-script.js';
import { readPages } from './redis-snapshot.js';
import { subscribeChannel } from './redis-subscription.js';
import { decodeBeat, decodeReap, decodeScope, decodeVersion } from './registry-replies.js';

const beatScript = new RedisScript('beat-4');
const deregisterScript = new RedisScript('deregister-4');
const reapScript = new RedisScript('reap-4');
const recountScript = new RedisScript('recount-3');
const scopeScript = new RedisScript('scope-4');
const versionScript = new RedisScript('version-3');
const fetchNodeScript = new RedisScript('fetch-node-3');

export interface RedisRegistryStoreOptions {
  client: RedisClient;
  /** Whether `close()` may quit `client` (true when the module opened it). */
  ownsClient: boolean;
  keys: RegistryKeys;
  pubSubEnabled: boolean;
  /** With `signingKey`: heartbeats sign leases, and reads believe a record only under one. */
  signer?: RecordSigner;
}

export class RedisRegistryStore implements RegistryStore {
  readonly kind = 'redis' as const;
  readonly address: string;
  lastConnectionError: string | undefined;
  reachedRedis = false;
  private readonly subscriptions = new Set<() => void>();
  private readonly registryKeys: string[];
  /** The registry keys and the tombstones (`gone`), for the scripts that remove nodes. */
  private readonly removalKeys: string[];
  /** The tag Redis last confirmed for each node this store beats for: no need to resend it. */
  private readonly stored = new Map<string, string>();
  private readonly noteError = (error: Error) => (this.lastConnectionError = error.message);
  private readonly leases: RecordLeases | undefined;

  constructor(private readonly options: RedisRegistryStoreOptions) {
    const { keys } = options;
    this.registryKeys = [keys.nodes, keys.deadlines, keys.meta];
    this.removalKeys = [...this.registryKeys, keys.gone];
    this.leases = options.signer && new RecordLeases(options.signer);
    this.address = describeClient(options.client);
    this.reachedRedis = options.client.status === 'ready';
    if (!this.reachedRedis) options.client.once('ready', () => (this.reachedRedis = true));
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
    const { nodeId, instance, record, tag, ttl, leaseUntil, scope = [] } = request;
    const owner = ownerField(request);
    const lease =
      this.leases && leaseUntil !== undefined
        ? this.leases.issue(nodeId, instance, tag, leaseUntil)
        : '';
    const send = (withRecord: boolean) =>
      beatScript.list(this.client, this.removalKeys, [
        nodeId,
        owner,
        ttl,
        this.channel,
        withRecord ? record : '',
        lease,
        ...scope,
      ]);
    let reply = await send(this.stored.get(nodeId) !== tag);
    // Redis lost the record, or it was replaced by anything but this process: send it, once.
    if (reply[0] === 'resend') reply = await send(true);
    if (reply[0] === 'duplicate') {
      throw new DuplicateNodeIdError(nodeId, Math.max(0, Number(reply[4]) - Number(reply[3])));
    }
    if (reply[0] === 'gone') throw new NodeDeregisteredError(nodeId);
    this.stored.set(nodeId, tag);
    return decodeBeat(reply, scope);
  }

  async deregister(nodeId: string, instance: string, ttl: number): Promise<boolean> {
    this.stored.delete(nodeId);
    const removed = await deregisterScript.run(this.client, this.removalKeys, [
      nodeId,
      instance,
      this.channel,
      ttl,
    ]);
    return Number(removed) === 1;
  }

  async reap(scope: string[] = [], ownDeadline?: number): Promise<ReapResult> {
    const reply = await reapScript.list(this.client, this.removalKeys, [
      this.channel,
      ownDeadline ?? '',
      ...scope,
    ]);
    return decodeReap(reply, scope);
  }

  async recount(scope: string[] = [], minGap = 0): Promise<RecountResult> {
    const reply = await recountScript.list(this.client, this.registryKeys, [minGap, ...scope]);
    return { ...decodeVersion(reply, scope), wrong: Number(reply.at(-1)) };
  }

  async snapshot(
    now: number,
    onPage: (records: string[], tags: string[], skipped: number) => void,
    scope: string[] = [],
  ): Promise<RegistryVersion> {
    // The script is loaded: the caller read the state with it just before.
    const finish = (pipeline: Parameters<Parameters<typeof readPages>[4]>[0]) =>
      pipeline.evalsha(versionScript.sha, this.registryKeys.length, ...this.registryKeys, ...scope);
    const state = (await readPages(
      this.client,
      this.options.keys,
      now,
      onPage,
      finish,
      this.leases,
    )) as ScriptReply;
    return decodeVersion(state, scope);
  }

  async fetchScope(kind: 'svc' | 'pool', name: string, scope: string[] = []): Promise<ScopeRead> {
    const { keys } = this.options;
    const set = (kind === 'svc' ? keys.servicePrefix : keys.poolPrefix) + name;
    const read = decodeScope(
      await scopeScript.list(this.client, [...this.registryKeys, set], scope),
      scope,
    );
    const { records, tags, owners, ...state } = read;
    if (!this.leases) return { ...state, records, tags };
    const kept: ScopeRead = { ...state, records: [], tags: [] };
    records.forEach((record, i) => {
      const id = (JSON.parse(record) as { nodeId?: unknown }).nodeId;
      if (typeof id !== 'string') return;
      if (this.leases!.validUntil(id, record, owners[i]) <= state.serverTime) return;
      kept.records.push(record);
      kept.tags.push(tags[i]);
    });
    return kept;
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
      .hmget(keys.meta, ...ids.map((id) => `o:${id}`))
      .exec();
    const [recordsReply, deadlinesReply, ownersReply] = replies ?? [];
    for (const reply of [recordsReply, deadlinesReply, ownersReply]) if (reply?.[0]) throw reply[0];
    const found = recordsReply![1] as Array<string | null>;
    const until = deadlinesReply![1] as Array<string | null>;
    const owners = ownersReply![1] as Array<string | null>;
    const result: FetchResult = { records: [], deadlines: [] };
    for (let i = 0; i < ids.length; i++) {
      if (found[i] === null || until[i] === null) continue;
      // With a key, a record counts only as long as its owner's lease vouches for it.
      const vouched = this.leases ? this.leases.validUntil(ids[i], found[i]!, owners[i]) : Infinity;
      result.records.push(found[i]!);
      result.deadlines.push(Math.min(Number(until[i]), vouched));
    }
    return result;
  }

  async fetchNode(nodeId: string): Promise<string | undefined> {
    const { keys } = this.options;
    const reply = await fetchNodeScript.run(
      this.client,
      [keys.nodes, keys.deadlines, keys.meta],
      [nodeId],
    );
    if (!Array.isArray(reply)) return undefined;
    const [record, owner, now] = reply as [string, string, number];
    if (this.leases && this.leases.validUntil(nodeId, record, owner) <= Number(now))
      return undefined;
    return record;
  }

  async version(scope: string[] = []): Promise<RegistryVersion> {
    return decodeVersion(await versionScript.list(this.client, this.registryKeys, scope), scope);
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
