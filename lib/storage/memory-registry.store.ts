import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DuplicateNodeIdError } from '../common/errors.js';
import { MemoryJobClaims } from './memory-job-claims.js';
import { withTag } from './registry-digest.js';
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

interface Entry {
  record: string;
  tag: string;
  services: string[];
  instance: string;
  deadline: number;
}

/**
 * The registry of one namespace in this process: what Redis holds, kept in memory. Apps in the same
 * process that use the same `keyPrefix` share it, the way replicas share a Redis.
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
  readonly claims = new MemoryJobClaims(() => this.now());
  readonly listeners = new Set<(message: string) => void>();
  readonly epoch = randomUUID();
  version = 0;
  /** Sum of the tags of the stored records (see registry-digest.ts). */
  digest = 0;

  now(): number {
    // Monotonic, like Redis TIME is meant to be: immune to changes of the wall clock.
    return Math.floor(performance.timeOrigin + performance.now());
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

  async beat(
    nodeId: string,
    instance: string,
    record: string,
    tag: string,
    services: string[],
    ttl: number,
  ): Promise<BeatResult> {
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
      if (current) registry.digest = withTag(registry.digest, current.tag, -1);
      registry.digest = withTag(registry.digest, tag, 1);
      registry.entries.set(nodeId, { record, tag, services, instance, deadline });
      this.announce(outcome === 'registered' ? 'NODE_REGISTERED' : 'NODE_UPDATED', record);
    }
    return { ...(await this.reap()), outcome, deadline };
  }

  async deregister(nodeId: string, instance: string): Promise<boolean> {
    const entry = this.registry.entries.get(nodeId);
    if (!entry || entry.instance !== instance) return false;
    this.registry.entries.delete(nodeId);
    this.registry.digest = withTag(this.registry.digest, entry.tag, -1);
    this.announce('NODE_DEREGISTERED', entry.record, 'shutdown');
    return true;
  }

  async reap(): Promise<ReapResult> {
    const registry = this.registry;
    const now = registry.now();
    const removed: string[] = [];
    let nextDeadline: number | null = null;
    for (const [nodeId, entry] of registry.entries) {
      if (entry.deadline <= now) {
        registry.entries.delete(nodeId);
        registry.digest = withTag(registry.digest, entry.tag, -1);
        this.announce('NODE_DEREGISTERED', entry.record, 'expired');
        removed.push(entry.record);
      } else if (nextDeadline === null || entry.deadline < nextDeadline) {
        nextDeadline = entry.deadline;
      }
    }
    return { ...this.versionNow(now), removed, nextDeadline };
  }

  async snapshot(): Promise<RegistrySnapshot> {
    const now = this.registry.now();
    const live = [...this.registry.entries.values()].filter((e) => e.deadline > now);
    return {
      ...this.versionNow(now),
      records: live.map((e) => e.record),
      tags: live.map((e) => e.tag),
    };
  }

  async version(): Promise<RegistryVersion> {
    return this.versionNow(this.registry.now());
  }

  async fetchService(serviceName: string): Promise<FetchResult> {
    const now = this.registry.now();
    const records: string[] = [];
    for (const entry of this.registry.entries.values()) {
      if (entry.deadline > now && entry.services.includes(serviceName)) records.push(entry.record);
    }
    return { records, serverTime: now };
  }

  async fetchNode(nodeId: string): Promise<string | undefined> {
    const entry = this.registry.entries.get(nodeId);
    return entry && entry.deadline > this.registry.now() ? entry.record : undefined;
  }

  async claimTick(request: ClaimRequest): Promise<ClaimResult> {
    return this.registry.claims.claim(request);
  }

  async releaseRun(
    jobKey: string,
    token: number,
    nodeId: string,
    runLease: number,
    retention: number,
    takeNext: boolean,
  ): Promise<ReleaseResult> {
    return this.registry.claims.release(jobKey, token, nodeId, runLease, retention, takeNext);
  }

  async renewRun(jobKey: string, token: number, runLease: number): Promise<boolean> {
    return this.registry.claims.renew(jobKey, token, runLease);
  }

  async recentClaims(jobKey: string, limit: number): Promise<TickRecord[]> {
    return this.registry.claims.recent(jobKey, limit);
  }

  async subscribe(onMessage: (message: string) => void): Promise<() => Promise<void>> {
    const listener = (message: string) => onMessage(message);
    this.registry.listeners.add(listener);
    return async () => {
      this.registry.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {}

  private announce(type: string, record: string, reason?: string): void {
    if (this.pubSubEnabled) this.registry.announce(type, record, reason);
    else this.registry.version += 1;
  }

  private versionNow(now: number): RegistryVersion {
    const { epoch, version, digest } = this.registry;
    return { epoch, version, digest, serverTime: now };
  }
}
