// This process's copy of the registry (all of it, or the pools and services it uses), indexed by
// service and pool so a lookup costs the nodes of that service and no round trip.
import type { NodeInfo } from '../node-info.interface.js';
import { freezeNode } from './node-record.codec.js';
import { ViewDigests } from './view-digests.js';
import { serviceNames, versionsOf } from './node-services.js';

interface Entry {
  node: NodeInfo;
  /** Registry version that wrote this entry: older news about the node is ignored. */
  version: number;
  /** Tag of the record as Redis stores it, as a number (see registry-digest.ts). */
  tag: number;
  /**
   * This node's own write, applied before its event came: the event (or, if it was lost, the
   * next resync) tells this node's subscribers, like any other change.
   */
  unannounced?: 'added' | 'changed';
}

/** Which nodes a view keeps: all, or those of some pools and services (`viewScope: 'used'`). */
export type ViewScope = { all: true } | { all: false; pools: Set<string>; services: Set<string> };

/** Where a view stood when a request left: a reply's version can never be below it. */
export interface ViewMark {
  epoch: string | undefined;
  version: number;
}

export interface ViewChange {
  type: 'added' | 'changed' | 'removed';
  node: NodeInfo;
}

/** Kept current by events; replaced wholesale by a resync. */
export class RegistryView {
  epoch: string | undefined;
  /** Version of the last event applied in order (or of the snapshot). */
  version = -1;
  /** Grows on every change of membership or content: a cheap "has anything changed" check. */
  generation = 0;
  /**
   * Live records the last snapshot left out (they did not decode or verify): Redis counts them,
   * so the view's size plus these is what Redis's own count should say.
   */
  skipped = 0;
  readonly digests: ViewDigests;
  private readonly entries = new Map<string, Entry>();
  private readonly byService = new Map<string, NodeInfo[]>();
  private readonly byPool = new Map<string, NodeInfo[]>();
  /** Per service, its nodes by the version they offer it at; built by range lookups, on demand. */
  private readonly versions = new Map<string, Map<string | undefined, NodeInfo[]>>();

  constructor(readonly scope: ViewScope = { all: true }) {
    this.digests = new ViewDigests(scopeFields(scope));
  }

  get size(): number {
    return this.entries.size;
  }

  /** Whether this view holds the nodes of `serviceName` (always, for a whole view). */
  covers(serviceName: string): boolean {
    return this.scope.all || this.scope.services.has(serviceName);
  }

  /** A partial view takes on a service: the caller resyncs to fill it. */
  widen(serviceName: string): void {
    if (this.scope.all) return;
    this.scope.services.add(serviceName);
    this.digests.reset(scopeFields(this.scope));
  }

  /** Each service this view holds nodes of, with how many (for metrics: no copies). */
  serviceSizes(): Array<[string, number]> {
    return [...this.byService].map(([name, nodes]) => [name, nodes.length]);
  }

  get(nodeId: string): NodeInfo | undefined {
    return this.entries.get(nodeId)?.node;
  }

  all(): NodeInfo[] {
    return [...this.entries.values()].map((entry) => entry.node);
  }

  offering(serviceName: string): NodeInfo[] {
    return this.byService.get(serviceName)?.slice() ?? [];
  }

  /** Nodes offering `serviceName` at a version `matches` accepts; each distinct version is tested once. */
  offeringMatching(
    serviceName: string,
    matches: (version: string | undefined) => boolean,
  ): NodeInfo[] {
    const nodes = this.byService.get(serviceName);
    if (!nodes) return [];
    let byVersion = this.versions.get(serviceName);
    if (!byVersion) this.versions.set(serviceName, (byVersion = versionsOf(serviceName, nodes)));
    const found: NodeInfo[] = [];
    let buckets = 0;
    for (const [version, bucket] of byVersion) {
      if (!matches(version)) continue;
      found.push(...bucket);
      buckets += 1;
    }
    // A node offering the service at two matching versions is listed once.
    return buckets > 1 ? [...new Set(found)] : found;
  }

  pool(serviceName: string): NodeInfo[] {
    return this.byPool.get(serviceName)?.slice() ?? [];
  }

  /** The digest fields a partial view asks Redis for (none for a whole view). */
  scopeFields(): string[] {
    return this.scope.all ? [] : this.digests.fields;
  }

  mark(): ViewMark {
    return { epoch: this.epoch, version: this.version };
  }

  /** The version of the last event applied in order. */
  advance(version: number): void {
    this.version = version;
    this.digests.reached(version, this.entries.size + this.skipped);
  }

  /**
   * Adds or replaces a node unless the view already holds newer news about it. `own`: this node's
   * own write, seen before its event (see `Entry.unannounced`).
   */
  upsert(node: NodeInfo, version: number, tag: number, own = false): ViewChange | undefined {
    const current = this.entries.get(node.nodeId);
    if (current && current.version > version) return undefined;
    if (!this.keeps(node)) return current ? this.remove(node.nodeId, version) : undefined;
    let unannounced: Entry['unannounced'];
    if (current) {
      current.version = version;
      if (current.tag === tag) {
        if (!own) current.unannounced = undefined; // its event came
        return undefined;
      }
      this.drop(current);
      if (own) unannounced = current.unannounced === 'added' ? 'added' : 'changed';
    } else if (own) {
      unannounced = 'added';
    }
    // Lookups hand out these objects without copying: frozen, no caller can change the view.
    freezeNode(node);
    this.entries.set(node.nodeId, { node, version, tag, ...(unannounced ? { unannounced } : {}) });
    this.digests.count(this.fieldsOf(node), tag, 1);
    for (const name of serviceNames(node)) this.index(this.byService, name, node);
    this.index(this.byPool, node.serviceName, node);
    this.generation += 1;
    return { type: current ? 'changed' : 'added', node };
  }

  remove(nodeId: string, version: number): ViewChange | undefined {
    const current = this.entries.get(nodeId);
    if (!current || current.version > version) return undefined;
    this.entries.delete(nodeId);
    this.drop(current);
    this.generation += 1;
    return { type: 'removed', node: current.node };
  }

  /** Replaces the content with a snapshot and returns what changed, so missed events can be replayed. */
  replace(
    epoch: string,
    version: number,
    nodes: Array<{ node: NodeInfo; tag: number }>,
  ): ViewChange[] {
    const changes: ViewChange[] = [];
    const seen = new Set<string>();
    this.digests.reset();
    for (const entry of this.entries.values()) {
      entry.version = -1; // the snapshot is the truth, whatever was applied before
      this.digests.count(this.fieldsOf(entry.node), entry.tag, 1);
    }
    for (const { node, tag } of nodes) {
      seen.add(node.nodeId);
      const current = this.entries.get(node.nodeId);
      // This node's own write whose event never came: the snapshot replays it too.
      if (current?.unannounced && current.tag === tag) {
        changes.push({ type: current.unannounced, node: current.node });
      }
      const change = this.upsert(node, version, tag);
      if (change) changes.push(change);
    }
    for (const nodeId of [...this.entries.keys()]) {
      if (!seen.has(nodeId)) changes.push(this.remove(nodeId, Infinity)!);
    }
    this.epoch = epoch;
    this.advance(version);
    return changes;
  }

  /** Whether this view keeps `node`: always for a whole view, else if it is in a kept pool or service. */
  private keeps(node: NodeInfo): boolean {
    return this.scope.all || this.fieldsOf(node).length > 0;
  }

  /** The digest fields `node` counts in, in this view. */
  private fieldsOf(node: NodeInfo): string[] {
    const scope = this.scope;
    if (scope.all) return ['digest'];
    const fields = scope.pools.has(node.serviceName) ? [`p:${node.serviceName}`] : [];
    for (const name of serviceNames(node)) if (scope.services.has(name)) fields.push(`d:${name}`);
    return fields;
  }

  private drop(entry: Entry): void {
    const { node } = entry;
    this.digests.count(this.fieldsOf(node), entry.tag, -1);
    for (const name of serviceNames(node)) this.unindex(this.byService, name, node);
    this.unindex(this.byPool, node.serviceName, node);
  }

  private index(index: Map<string, NodeInfo[]>, key: string, node: NodeInfo): void {
    const list = index.get(key);
    if (list) list.push(node);
    else index.set(key, [node]);
    if (index === this.byService) this.versions.delete(key);
  }

  private unindex(index: Map<string, NodeInfo[]>, key: string, node: NodeInfo): void {
    const list = index.get(key);
    if (!list) return;
    const at = list.indexOf(node);
    if (at !== -1) list.splice(at, 1);
    if (list.length === 0) index.delete(key);
    if (index === this.byService) this.versions.delete(key);
  }
}

function scopeFields(scope: ViewScope): string[] {
  if (scope.all) return ['digest'];
  return [
    ...[...scope.pools].map((pool) => `p:${pool}`),
    ...[...scope.services].map((service) => `d:${service}`),
  ];
}
