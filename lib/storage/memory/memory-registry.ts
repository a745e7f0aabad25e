// The shared state of one in-memory namespace: entries, tombstones, digests, version and the
// listeners its events go to, with the digest rules of the Redis scripts.
import { randomUUID } from 'node:crypto';
import { tagValue, withTag } from '../registry-digest.js';
import { memoryNow } from './memory-clock.js';

export interface Entry {
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
export class MemoryRegistry {
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
