import { describe, expect, it } from '@jest/globals';
import { HashRing, hash64, virtualNodeKey } from '../../lib/node-pool/hash-ring.js';

const nodeIds = (n: number): string[] => Array.from({ length: n }, (_, i) => `node-${i}`);
const jobKeys = (j: number): string[] => Array.from({ length: j }, (_, i) => `job-${i}`);

function loads(owners: Iterable<string | undefined>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const o of owners) if (o !== undefined) counts.set(o, (counts.get(o) ?? 0) + 1);
  return counts;
}

describe('hash64', () => {
  it('is SHA-256 truncated to 64 bits (regression pin: catches a change of algorithm)', () => {
    expect(hash64('')).toBe(0xe3b0c44298fc1c14n);
    expect(hash64('0:alpha')).toBe(0x67d7407d59f7761cn);
  });
});

describe('HashRing', () => {
  it('gives the same owners whatever the order or duplication of node ids', () => {
    const a = new HashRing(nodeIds(10));
    const b = new HashRing([...nodeIds(10)].reverse().concat('node-4', 'node-0'));
    expect(b.size).toBe(10);
    expect(b.nodes()).toEqual(a.nodes());
    for (const key of jobKeys(1000)) expect(b.owner(key)).toBe(a.owner(key));
  });

  it('keeps fixed owners for a fixed ring (regression pin: catches a change of hash or layout)', () => {
    const ring = new HashRing(['gamma', 'alpha', 'beta']);
    expect(ring.owner('job:report')).toBe('beta');
    expect(ring.owner('job:cleanup')).toBe('beta');
    expect(ring.owner('job:billing')).toBe('alpha');
  });

  it('has no owner and no preference when empty', () => {
    const ring = new HashRing([]);
    expect(ring.size).toBe(0);
    expect(ring.nodes()).toEqual([]);
    expect(ring.owner('job')).toBeUndefined();
    expect(ring.preference('job', 3)).toEqual([]);
    expect(ring.assignBounded(['job']).size).toBe(0);
  });

  it('rejects replicas outside 1..1000 or not an integer, naming hashReplicas', () => {
    for (const bad of [0, -1, 1001, 1.5, Number.NaN]) {
      expect(() => new HashRing(['a'], bad)).toThrow(RangeError);
      expect(() => new HashRing(['a'], bad)).toThrow(/hashReplicas/);
    }
    expect(() => new HashRing(['a'], 1)).not.toThrow();
    expect(() => new HashRing(['a'], 1000)).not.toThrow();
  });

  it('moves only the removed node’s keys, about 1/N of them', () => {
    const keys = jobKeys(1000);
    const full = new HashRing(nodeIds(10));
    const removed = 'node-3';
    const smaller = new HashRing(nodeIds(10).filter((id) => id !== removed));
    let moved = 0;
    for (const key of keys) {
      const before = full.owner(key);
      if (before === removed) moved++;
      else expect(smaller.owner(key)).toBe(before);
    }
    expect(moved).toBeGreaterThan(0);
    expect(moved / keys.length).toBeLessThanOrEqual(1.5 / 10);
  });

  it('moves keys only to an added node', () => {
    const before = new HashRing(nodeIds(10));
    const after = new HashRing([...nodeIds(10), 'node-new']);
    let moved = 0;
    for (const key of jobKeys(1000)) {
      const owner = after.owner(key);
      if (owner !== before.owner(key)) {
        expect(owner).toBe('node-new');
        moved++;
      }
    }
    expect(moved).toBeGreaterThan(0);
  });

  it('keeps consistent-mode load within 1.6x the mean (N=10, 50 replicas, 10000 keys)', () => {
    const ring = new HashRing(nodeIds(10), 50);
    const keys = jobKeys(10_000);
    const counts = loads(keys.map((k) => ring.owner(k)));
    expect(counts.size).toBe(10);
    expect(Math.max(...counts.values()) / (keys.length / 10)).toBeLessThan(1.6);
  });

  it('caps bounded-mode load at ceil(1.25 * mean) and assigns every key', () => {
    const ring = new HashRing(nodeIds(10), 50);
    const keys = jobKeys(10_000);
    const assigned = ring.assignBounded(keys, 1.25);
    expect(assigned.size).toBe(keys.length);
    expect(keys.every((k) => ring.nodes().includes(assigned.get(k) ?? ''))).toBe(true);
    const cap = Math.ceil(1.25 * (keys.length / 10));
    for (const load of loads(assigned.values()).values()) expect(load).toBeLessThanOrEqual(cap);
  });

  it('assigns bounded mode identically whatever the key order', () => {
    const ring = new HashRing(nodeIds(10));
    const keys = jobKeys(2000);
    const forward = ring.assignBounded(keys);
    const backward = ring.assignBounded([...keys].reverse());
    for (const key of keys) expect(backward.get(key)).toBe(forward.get(key));
  });

  it('rejects a bounded load factor below 1', () => {
    expect(() => new HashRing(['a']).assignBounded(['k'], 0.9)).toThrow(RangeError);
  });

  it('places unambiguous virtual nodes: "a1" and "a" with 11 replicas give 22 points', () => {
    expect(virtualNodeKey('a1', 0)).not.toBe(virtualNodeKey('a', 10));
    const points = new Set<bigint>();
    for (const id of ['a1', 'a']) {
      for (let i = 0; i < 11; i++) points.add(hash64(virtualNodeKey(id, i)));
    }
    expect(points.size).toBe(22);
    // Each node owns part of the ring, so both appear as owners.
    const ring = new HashRing(['a1', 'a'], 11);
    expect(new Set(jobKeys(200).map((k) => ring.owner(k)))).toEqual(new Set(['a', 'a1']));
  });

  it('returns distinct preference nodes, owner first, min(count, size) long', () => {
    const ring = new HashRing(nodeIds(5));
    for (const key of jobKeys(100)) {
      expect(ring.preference(key, 0)).toEqual([]);
      const three = ring.preference(key, 3);
      expect(three).toHaveLength(3);
      expect(three[0]).toBe(ring.owner(key));
      expect(new Set(three).size).toBe(3);
      const all = ring.preference(key, 10);
      expect(all).toHaveLength(5);
      expect([...all].sort()).toEqual(ring.nodes());
      expect(all.slice(0, 3)).toEqual(three);
    }
  });
});
