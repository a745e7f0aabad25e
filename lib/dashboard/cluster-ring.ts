// Where nodes and jobs sit on the pool's consistent-hash ring, as fractions of the circle, for the
// page's ring drawing. Same hash and virtual-node keys as the pool's HashRing.
import { hash64, virtualNodeKey } from '../node-pool/hash-ring.js';
import type { RingArc } from './cluster-state.js';

/** Position of `key` on the ring, in [0, 1). */
export function ringPosition(key: string): number {
  return round(Number(hash64(key)) / 2 ** 64);
}

/**
 * The ring cut into arcs, each ending at a virtual node and owned by it (a key goes to the first
 * virtual node clockwise), neighbours of one owner merged. Empty without nodes.
 */
export function ringArcs(nodeIds: readonly string[], replicas: number): RingArc[] {
  const points = nodeIds
    .flatMap((nodeId) =>
      Array.from({ length: replicas }, (_, r) => ({
        at: ringPosition(virtualNodeKey(nodeId, r)),
        nodeId,
      })),
    )
    .sort((a, b) => a.at - b.at || (a.nodeId < b.nodeId ? -1 : 1));
  if (points.length === 0) return [];
  const arcs: RingArc[] = [];
  let from = 0;
  for (const point of [...points, { at: 1, nodeId: points[0].nodeId }]) {
    const last = arcs.at(-1);
    if (last?.nodeId === point.nodeId) last.to = point.at;
    else arcs.push({ from, to: point.at, nodeId: point.nodeId });
    from = point.at;
  }
  return arcs;
}

function round(fraction: number): number {
  return Math.round(fraction * 1e6) / 1e6;
}
