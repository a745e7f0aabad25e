// The registry of one namespace inside this process (no `redis` option): what Redis holds, kept in
// memory, under the same rules and with the same events and digests.
import { DuplicateNodeIdError, NodeDeregisteredError } from '../../common/errors.js';
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
import { MemoryRegistry, type Entry } from './memory-registry.js';

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
    onPage: (records: string[], tags: string[], skipped: number) => void,
    scope: string[] = [],
  ): Promise<RegistryVersion> {
    const { records, tags } = this.page((entry) => entry.deadline > now, scope);
    onPage(records, tags, 0);
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
