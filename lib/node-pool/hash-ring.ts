// The consistent-hash ring that places jobs on nodes: a 64-bit hash identical on every process,
// virtual nodes and bounded-load assignment; immutable, so a membership change builds a new one.
import { hash } from 'node:crypto';

/**
 * Well-mixed 64-bit hash: the first 8 bytes of SHA-256, big-endian. Unlike the
 * CRC32 of the Go seed it spreads virtual nodes evenly, and it is identical on
 * every process and platform. One-shot crypto.hash (Node >= 20.12) skips the
 * Hash object and is about twice as fast as createHash for short keys.
 */
export function hash64(value: string): bigint {
  return hash('sha256', value, 'buffer').readBigUInt64BE(0);
}

/**
 * Key hashed to place one virtual node. The decimal index and a colon come
 * first, so arbitrary node ids cannot collide ('a1' #0 vs 'a' #10).
 */
export function virtualNodeKey(nodeId: string, index: number): string {
  return `${index}:${nodeId}`;
}

/** Consistent-hash ring with virtual nodes; immutable once built. */
export class HashRing {
  readonly size: number;
  private readonly ids: readonly string[];
  /** Sorted ring positions. */
  private readonly points: BigUint64Array;
  /** owners[i] indexes `ids`: the node holding points[i]. */
  private readonly owners: Uint32Array;

  constructor(nodeIds: readonly string[], replicas = 50) {
    if (!Number.isInteger(replicas) || replicas < 1 || replicas > 1000) {
      throw new RangeError(`hashReplicas must be an integer in 1..1000, got ${replicas}`);
    }
    // Default sort compares UTF-16 code units: locale-independent, so deterministic.
    this.ids = [...new Set(nodeIds)].sort();
    this.size = this.ids.length;

    const total = this.size * replicas;
    const raw = new BigUint64Array(total);
    const rawOwner = new Uint32Array(total);
    for (let n = 0; n < this.size; n++) {
      for (let r = 0; r < replicas; r++) {
        raw[n * replicas + r] = hash64(virtualNodeKey(this.ids[n], r));
        rawOwner[n * replicas + r] = n;
      }
    }
    // Ids are sorted, so breaking ties by owner index breaks them by node id.
    const order = Array.from({ length: total }, (_, i) => i).sort((a, b) =>
      raw[a] < raw[b] ? -1 : raw[a] > raw[b] ? 1 : rawOwner[a] - rawOwner[b],
    );
    this.points = new BigUint64Array(total);
    this.owners = new Uint32Array(total);
    order.forEach((from, to) => {
      this.points[to] = raw[from];
      this.owners[to] = rawOwner[from];
    });
  }

  /** Sorted, distinct node ids. */
  nodes(): string[] {
    return [...this.ids];
  }

  /** Node of the first virtual node clockwise from hash(key). */
  owner(key: string): string | undefined {
    if (this.size === 0) return undefined;
    return this.ids[this.owners[this.locate(hash64(key))]];
  }

  /** Up to `count` distinct nodes walking clockwise from the key, owner first. */
  preference(key: string, count: number): string[] {
    const limit = Math.min(Math.floor(count), this.size);
    const result: string[] = [];
    if (!(limit > 0)) return result;
    const seen = new Uint8Array(this.size);
    const total = this.points.length;
    for (let i = this.locate(hash64(key)), step = 0; step < total; step++, i = (i + 1) % total) {
      const n = this.owners[i];
      if (seen[n]) continue;
      seen[n] = 1;
      if (result.push(this.ids[n]) === limit) break;
    }
    return result;
  }

  /**
   * Consistent hashing with bounded loads (Mirrokni, Thorup, Zadimoghaddam):
   * each key goes to the first node clockwise whose load is below
   * max(floor(loadFactor * mean), floor(mean) + 1) keys. Keys are placed in sorted order so the
   * result does not depend on input order.
   */
  assignBounded(keys: readonly string[], loadFactor = 1.25): Map<string, string> {
    // Below 1 the capacities could not hold every key.
    if (!Number.isFinite(loadFactor) || loadFactor < 1) {
      throw new RangeError(`loadFactor must be a finite number >= 1, got ${loadFactor}`);
    }
    const assigned = new Map<string, string>();
    if (this.size === 0) return assigned;
    const unique = [...new Set(keys)].sort();
    // Within loadFactor x the mean where that leaves a node room for one more key than the
    // mean; with fewer keys per node the bound would allow no slack, and a node leaving would
    // cascade keys round the whole ring, so one key of slack wins there. floor(mean) + 1, not
    // ceil: the capacity must not jump when a node leaves and the mean crosses an integer.
    const mean = unique.length / this.size;
    const capacity = Math.max(Math.floor(loadFactor * mean), Math.floor(mean) + 1);
    const load = new Uint32Array(this.size);
    const total = this.points.length;
    for (const key of unique) {
      let i = this.locate(hash64(key));
      // Terminates: capacity * size >= keys, so some node always has room.
      while (load[this.owners[i]] >= capacity) i = (i + 1) % total;
      load[this.owners[i]]++;
      assigned.set(key, this.ids[this.owners[i]]);
    }
    return assigned;
  }

  /** Index of the first point >= h, wrapping past the end to 0. */
  private locate(h: bigint): number {
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid] < h) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }
}
