// The registry of one namespace inside this process (no `redis` option): what Redis holds, kept in
// memory, under the same rules and with the same events and digests.
import { randomUUID } from 'node:crypto';
import { DuplicateNodeIdError } from '../../common/errors.js';
import { tagValue, withTag } from '../registry-digest.js';
import type {
  BeatRequest,
  BeatResult,
  FetchResult,
  ReapResult,
  RegistryStore,
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

/** The digest fields an entry counts in, as the Redis scripts keep them. */
const fieldsOf = (entry: Entry) => [
  'digest',
  `p:${entry.pool}`,
  ...entry.services.map((name) => `d:${name}`),
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
    if (current && current.instance !== instance && current.deadline > now) {
      throw new DuplicateNodeIdError(nodeId);
    }
    const deadline = now + ttl;
    let outcome: BeatResult['outcome'] = 'unchanged';
    if (current && current.tag === tag && current.instance === instance) {
      current.deadline = deadline;
    } else {
      outcome = current && current.instance === instance ? 'updated' : 'registered';
      if (current) registry.count(current, -1);
      const entry = { record, tag, pool, services: [...services], instance, deadline };
      registry.entries.set(nodeId, entry);
      registry.count(entry, 1);
      this.announce(outcome === 'registered' ? 'NODE_REGISTERED' : 'NODE_UPDATED', record);
    }
    return { ...(await this.reap(request.scope)), outcome, deadline };
  }

  async deregister(nodeId: string, instance: string): Promise<boolean> {
    const entry = this.registry.entries.get(nodeId);
    if (!entry || entry.instance !== instance) return false;
    this.registry.entries.delete(nodeId);
    this.registry.count(entry, -1);
    this.announce('NODE_DEREGISTERED', entry.record, 'shutdown');
    return true;
  }

  async reap(scope: string[] = []): Promise<ReapResult> {
    const registry = this.registry;
    const now = registry.now();
    const removed: string[] = [];
    let nextDeadline: number | null = null;
    for (const [nodeId, entry] of registry.entries) {
      if (entry.deadline <= now) {
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
    const { epoch, version, digests } = this.registry;
    const scopes = Object.fromEntries(scope.map((field) => [field, digests.get(field) ?? 0]));
    return { epoch, version, digest: digests.get('digest') ?? 0, scopes, serverTime: now };
  }
}
