import { withTag } from '../storage/registry-digest.js';
import type { NodeInfo } from './node-info.interface.js';
import { freezeNode } from './node-record.codec.js';

interface Entry {
  node: NodeInfo;
  /** Canonical form (no signature): what tells a real change from a plain re-write. */
  raw: string;
  /** Registry version that wrote this entry: older news about the node is ignored. */
  version: number;
  /** Tag of the record as Redis stores it (see registry-digest.ts). */
  tag: string;
}

/** How many recent versions keep the digest the view had at them. */
const DIGEST_HISTORY = 64;

/** Where a view stood when a request left: a reply's version can never be below it. */
export interface ViewMark {
  epoch: string | undefined;
  version: number;
}

export interface ViewChange {
  type: 'added' | 'changed' | 'removed';
  node: NodeInfo;
}

/**
 * This process's copy of the registry, indexed by service name so a lookup costs the nodes of that
 * service and no round trip. Kept current by events; replaced wholesale by a resync.
 */
export class RegistryView {
  epoch: string | undefined;
  /** Version of the last event applied in order (or of the snapshot). */
  version = -1;
  /** Grows on every change of membership or content: a cheap "has anything changed" check. */
  generation = 0;
  /** Sum of the tags of the entries: equals the registry's digest when the view holds what Redis holds. */
  digest = 0;
  /** The digest the view had at each recent version. */
  private readonly digests = new Map<number, number>();
  private readonly entries = new Map<string, Entry>();
  private readonly byService = new Map<string, Group>();
  private readonly byPool = new Map<string, Group>();

  get size(): number {
    return this.entries.size;
  }

  get(nodeId: string): NodeInfo | undefined {
    return this.entries.get(nodeId)?.node;
  }

  all(): NodeInfo[] {
    return [...this.entries.values()].map((entry) => entry.node);
  }

  offering(serviceName: string): NodeInfo[] {
    return this.lookup(this.byService.get(serviceName));
  }

  /** Nodes offering `serviceName` at a version `matches` accepts; each distinct version is tested once. */
  offeringMatching(
    serviceName: string,
    matches: (version: string | undefined) => boolean,
  ): NodeInfo[] {
    const group = this.byService.get(serviceName);
    if (!group) return [];
    group.versions ??= versionsOf(serviceName, group.nodes);
    const found: NodeInfo[] = [];
    let buckets = 0;
    for (const [version, nodes] of group.versions) {
      if (!matches(version)) continue;
      found.push(...nodes);
      buckets += 1;
    }
    // A node offering the service at two matching versions is listed once.
    return buckets > 1 ? [...new Set(found)] : found;
  }

  pool(serviceName: string): NodeInfo[] {
    return this.lookup(this.byPool.get(serviceName));
  }

  mark(): ViewMark {
    return { epoch: this.epoch, version: this.version };
  }

  /** The version of the last event applied in order, remembering the digest at it. */
  advance(version: number): void {
    this.version = version;
    this.digests.set(version, this.digest);
    if (this.digests.size > DIGEST_HISTORY) {
      this.digests.delete(this.digests.keys().next().value!);
    }
  }

  /** The digest the view had at `version`, if that version is recent and was applied here. */
  digestAt(version: number): number | undefined {
    return this.digests.get(version);
  }

  /** Adds or replaces a node unless the view already holds newer news about it. */
  upsert(node: NodeInfo, raw: string, version: number, tag: string): ViewChange | undefined {
    const current = this.entries.get(node.nodeId);
    if (current && current.version > version) return undefined;
    if (current) {
      current.version = version;
      this.digest = withTag(withTag(this.digest, current.tag, -1), tag, 1);
      current.tag = tag;
      if (current.raw === raw) return undefined;
      this.unindex(current.node);
    } else {
      this.digest = withTag(this.digest, tag, 1);
    }
    // Lookups hand out these objects without copying: frozen, no caller can change the view.
    freezeNode(node);
    this.entries.set(node.nodeId, { node, raw, version, tag });
    this.index(node);
    this.generation += 1;
    return { type: current ? 'changed' : 'added', node };
  }

  remove(nodeId: string, version: number): ViewChange | undefined {
    const current = this.entries.get(nodeId);
    if (!current || current.version > version) return undefined;
    this.entries.delete(nodeId);
    this.digest = withTag(this.digest, current.tag, -1);
    this.unindex(current.node);
    this.generation += 1;
    return { type: 'removed', node: current.node };
  }

  /** Replaces the content with a snapshot and returns what changed, so missed events can be replayed. */
  replace(
    epoch: string,
    version: number,
    nodes: Array<{ node: NodeInfo; raw: string; tag: string }>,
  ): ViewChange[] {
    const changes: ViewChange[] = [];
    const seen = new Set<string>();
    for (const { node, raw, tag } of nodes) {
      seen.add(node.nodeId);
      const current = this.entries.get(node.nodeId);
      if (current) current.version = -1; // the snapshot is the truth, whatever was applied before
      const change = this.upsert(node, raw, version, tag);
      if (change) changes.push(change);
    }
    for (const nodeId of [...this.entries.keys()]) {
      if (!seen.has(nodeId)) changes.push(this.remove(nodeId, Infinity)!);
    }
    if (epoch !== this.epoch || version < this.version) this.digests.clear();
    this.epoch = epoch;
    this.advance(version);
    return changes;
  }

  private lookup(group: Group | undefined): NodeInfo[] {
    if (!group) return [];
    group.list ??= [...group.nodes.values()];
    return group.list.slice();
  }

  private index(node: NodeInfo): void {
    for (const service of node.services) addTo(this.byService, service.name, node);
    addTo(this.byPool, node.serviceName, node);
  }

  private unindex(node: NodeInfo): void {
    for (const service of node.services) removeFrom(this.byService, service.name, node.nodeId);
    removeFrom(this.byPool, node.serviceName, node.nodeId);
  }
}

/** The nodes of one service or pool, with the array lookups return, built on first use. */
interface Group {
  nodes: Map<string, NodeInfo>;
  list: NodeInfo[] | undefined;
  /** For a service: its nodes by the version they offer it at. */
  versions?: Map<string | undefined, NodeInfo[]>;
}

function versionsOf(
  serviceName: string,
  nodes: Map<string, NodeInfo>,
): Map<string | undefined, NodeInfo[]> {
  const versions = new Map<string | undefined, NodeInfo[]>();
  for (const node of nodes.values()) {
    for (const service of node.services) {
      if (service.name !== serviceName) continue;
      const bucket = versions.get(service.version);
      if (bucket) bucket.push(node);
      else versions.set(service.version, [node]);
    }
  }
  return versions;
}

function addTo(index: Map<string, Group>, key: string, node: NodeInfo): void {
  let group = index.get(key);
  if (!group) index.set(key, (group = { nodes: new Map(), list: undefined }));
  group.nodes.set(node.nodeId, node);
  group.list = undefined;
  group.versions = undefined;
}

function removeFrom(index: Map<string, Group>, key: string, id: string): void {
  const group = index.get(key);
  if (!group) return;
  group.nodes.delete(id);
  group.list = undefined;
  group.versions = undefined;
  if (group.nodes.size === 0) index.delete(key);
}
