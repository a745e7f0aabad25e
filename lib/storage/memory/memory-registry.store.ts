// The registry of one namespace inside this process (no `redis` option): what Redis holds, kept in
// memory, under the same rules and with the same events and digests.
import { randomUUID } from 'node:crypto';
import { DuplicateNodeIdError, NodeDeregisteredError } from '../../common/errors.js';
import { tagValue, withTag } from '../registry-digest.js';
import type {
  BeatRequest,
  BeatResult,
  FetchResult,
  ReapResult,
  RegistryStore,
  RecountResult,
  RegistryVersion,
  ScopeRead,
} from '../registry-store.interface.js';
import { memoryNow } from './memory-clock.js';

interface Entry {
  record: string;
  tag: string;
  pool: string;
  services: string[];
  instance: string;
  deadline: number;
}

/** The digest fields an entry counts in, as the Redis scripts keep them (each service once). */
const fieldsOf = (entry: Entry) => [
  'digest',
  `p:${entry.pool}`,
  ...new Set(entry.services.map((name) => `d:${name}`)),
];

/**
 * Apps in the same process that use the same `keyPrefix` share one registry, the way replicas
 * share a Redis.
 */
class MemoryRegistry {
  private static readonly namespaces = new Map<string, MemoryRegistry>();

  static shared(namespace: string): MemoryRegistry {
    let registry = this.namespaces.get(namespace);
    if (!registry) {
      registry = new MemoryRegistry();
      this.namespaces.set(namespace, registry);
    }
    return registry;
  }

  readonly entries = new Map<string, Entry>();
  /** Deregistered ids: the instance whose late beats are refused, until when. */
  readonly tombstones = new Map<string, { instance: string; until: number }>();
  readonly listeners = new Set<(message: string) => void>();
  readonly epoch = randomUUID();
  readonly digests = new Map<string, number>();
  version = 0;

  now(): number {
    return memoryNow();
  }

  count(entry: Entry, sign: 1 | -1): void {
    for (const field of fieldsOf(entry)) {
      this.digests.set(field, withTag(this.digests.get(field) ?? 0, tagValue(entry.tag), sign));
    }
    // A field of a name no node counts in any more goes, as on Redis.
    if (sign === -1)
      for (const field of fieldsOf(entry)) if (!this.counts(field)) this.digests.delete(field);
  }

  private counts(field: string): boolean {
    for (const entry of this.entries.values()) if (fieldsOf(entry).includes(field)) return true;
    return false;
  }

  /** Every digest added up again; how many fields were wrong. */
  recount(): number {
    const sums = new Map<string, number>([['digest', 0]]);
    for (const entry of this.entries.values()) {
      for (const field of fieldsOf(entry)) {
        sums.set(field, withTag(sums.get(field) ?? 0, tagValue(entry.tag), 1));
      }
    }
    let wrong = 0;
    for (const [field, value] of this.digests) if (sums.get(field) !== value) wrong += 1;
    for (const field of sums.keys()) if (!this.digests.has(field)) wrong += 1;
    this.digests.clear();
    for (const [field, value] of sums) this.digests.set(field, value);
    return wrong;
  }

  announce(type: string, record: string, reason?: string): void {
    this.version += 1;
    const message =
      `{"type":"${type}","epoch":${JSON.stringify(this.epoch)},"version":${this.version},` +
      `"timestamp":${this.now()}${reason ? `,"reason":"${reason}"` : ''},"node":${record}}`;
    // Delivered later, as pub/sub would: never inside the caller's stack.
    for (const listener of this.listeners) setImmediate(listener, message);
  }
}

export class MemoryRegistryStore implements RegistryStore {
  readonly kind = 'memory' as const;
  readonly address = 'memory (this process)';
  readonly lastConnectionError = undefined;
  readonly reachedRedis = true;
  private readonly registry: MemoryRegistry;

  constructor(
    namespace: string,
    private readonly pubSubEnabled: boolean,
  ) {
    this.registry = MemoryRegistry.shared(namespace);
  }

  async beat(request: BeatRequest): Promise<BeatResult> {
    const { nodeId, instance, record, tag, pool, services, ttl } = request;
    const registry = this.registry;
    const now = registry.now();
    const current = registry.entries.get(nodeId);
    const tombstone = registry.tombstones.get(nodeId);
    if (tombstone?.instance === instance && tombstone.until > now) {
      throw new NodeDeregisteredError(nodeId);
    }
    if (current && current.instance !== instance && current.deadline > now) {
      throw new DuplicateNodeIdError(nodeId, current.deadline - now);
    }
    registry.tombstones.delete(nodeId);
    const deadline = now + ttl;
    const judge = !current || current.deadline > now;
    let outcome: BeatResult['outcome'] = 'unchanged';
    if (current && current.tag === tag && current.instance === instance) {
      current.deadline = deadline;
    } else {
      outcome = current && current.instance === instance ? 'updated' : 'registered';
      if (current) {
        registry.entries.delete(nodeId);
        registry.count(current, -1);
      }
      const entry = { record, tag, pool, services: [...new Set(services)], instance, deadline };
      registry.entries.set(nodeId, entry);
      registry.count(entry, 1);
      this.announce(outcome === 'registered' ? 'NODE_REGISTERED' : 'NODE_UPDATED', record);
    }
    return { ...this.reapAt(now, request.scope ?? [], judge), outcome, deadline };
  }

  async deregister(nodeId: string, instance: string, ttl: number): Promise<boolean> {
    const registry = this.registry;
    const entry = registry.entries.get(nodeId);
    if (entry && entry.instance !== instance) return false;
    registry.tombstones.set(nodeId, { instance, until: registry.now() + ttl });
    if (!entry) return false;
    registry.entries.delete(nodeId);
    registry.count(entry, -1);
    this.announce('NODE_DEREGISTERED', entry.record, 'shutdown');
    return true;
  }

  /** Nothing can write around this store: a recount is never skipped (`minGap` unused). */
  async recount(scope: string[] = []): Promise<RecountResult> {
    const wrong = this.registry.recount();
    return { ...this.state(this.registry.now(), scope), wrong };
  }

  async reap(scope: string[] = [], ownDeadline?: number): Promise<ReapResult> {
    const now = this.registry.now();
    return this.reapAt(now, scope, ownDeadline === undefined || ownDeadline > now);
  }

  /** Removes the expired nodes (unless the caller was expired itself: `judge` false). */
  private reapAt(now: number, scope: string[], judge: boolean): ReapResult {
    const registry = this.registry;
    const removed: string[] = [];
    let nextDeadline: number | null = null;
    for (const [nodeId, { until }] of registry.tombstones) {
      if (until <= now) registry.tombstones.delete(nodeId);
    }
    for (const [nodeId, entry] of registry.entries) {
      if (entry.deadline <= now && judge) {
        registry.entries.delete(nodeId);
        registry.count(entry, -1);
        this.announce('NODE_DEREGISTERED', entry.record, 'expired');
        removed.push(entry.record);
      } else if (nextDeadline === null || entry.deadline < nextDeadline) {
        nextDeadline = entry.deadline;
      }
    }
    return { ...this.state(now, scope), removed, nextDeadline };
  }

  /** One page holds everything: there is no server to keep from blocking. */
  async snapshot(
    now: number,
    onPage: (records: string[], tags: string[]) => void,
    scope: string[] = [],
  ): Promise<RegistryVersion> {
    const { records, tags } = this.page((entry) => entry.deadline > now, scope);
    onPage(records, tags);
    return this.state(this.registry.now(), scope);
  }

  async fetchScope(kind: 'svc' | 'pool', name: string, scope: string[] = []): Promise<ScopeRead> {
    return this.page(
      (entry) => (kind === 'pool' ? entry.pool === name : entry.services.includes(name)),
      scope,
    );
  }

  async fetchService(serviceName: string): Promise<FetchResult> {
    const result: FetchResult = { records: [], deadlines: [] };
    for (const entry of this.registry.entries.values()) {
      if (!entry.services.includes(serviceName)) continue;
      result.records.push(entry.record);
      result.deadlines.push(entry.deadline);
    }
    return result;
  }

  async fetchNode(nodeId: string): Promise<string | undefined> {
    const entry = this.registry.entries.get(nodeId);
    return entry && entry.deadline > this.registry.now() ? entry.record : undefined;
  }

  async version(scope: string[] = []): Promise<RegistryVersion> {
    return this.state(this.registry.now(), scope);
  }

  async subscribe(onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const listener = (message: string) => onMessage(message);
    this.registry.listeners.add(listener);
    return async () => {
      this.registry.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {}

  private page(keep: (entry: Entry) => boolean, scope: string[]): ScopeRead {
    const now = this.registry.now();
    const live = [...this.registry.entries.values()].filter((e) => e.deadline > now && keep(e));
    return {
      ...this.state(now, scope),
      records: live.map((e) => e.record),
      tags: live.map((e) => e.tag),
    };
  }

  private announce(type: string, record: string, reason?: string): void {
    if (this.pubSubEnabled) this.registry.announce(type, record, reason);
    else this.registry.version += 1;
  }

  private state(now: number, scope: string[]): RegistryVersion {
    const { epoch, version, digests, entries } = this.registry;
    const scopes = Object.fromEntries(scope.map((field) => [field, digests.get(field) ?? 0]));
    const digest = digests.get('digest') ?? 0;
    return { epoch, version, digest, count: entries.size, scopes, serverTime: now };
  }
}
