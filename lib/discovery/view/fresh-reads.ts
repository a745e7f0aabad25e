// Lookups that read Redis now instead of the view (`{ fresh: true }`, and what a partial view
// does not keep): all nodes page by page, one service by its set, one node by id.
import type { RegistryStore } from '../../storage/registry-store.interface.js';
import type { NodeInfo } from '../node-info.interface.js';
import type { RecordDecoder } from './record-decoder.js';
import type { ViewLoader } from './view-loader.js';

export class FreshReads {
  constructor(
    private readonly store: RegistryStore,
    private readonly loader: ViewLoader,
    private readonly decoder: RecordDecoder,
  ) {}

  /** Every live node (read once: parsed without the cache). */
  async nodes(): Promise<NodeInfo[]> {
    const nodes: NodeInfo[] = [];
    await this.loader.pages((records) => nodes.push(...this.decoder.decodeAll(records, false)));
    return nodes;
  }

  /** The live nodes offering `serviceName` (cost: that service's nodes, not the registry's). */
  async service(serviceName: string): Promise<NodeInfo[]> {
    const { records, deadlines } = await this.store.fetchService(serviceName);
    const now = await this.loader.serverNow();
    return this.decoder.decodeAll(records.filter((_, i) => deadlines[i] > now));
  }

  /**
   * The heartbeat deadline (Redis time, ms) of each node offering `serviceName`, by node id,
   * expired ones not yet removed included; records that do not decode or verify are left out.
   */
  async deadlines(serviceName: string): Promise<Map<string, number>> {
    const { records, deadlines } = await this.store.fetchService(serviceName);
    const found = new Map<string, number>();
    records.forEach((record, i) => {
      const node = this.decoder.decode(record);
      if (node) found.set(node.nodeId, deadlines[i]);
    });
    return found;
  }

  /** The record of `nodeId` if it is alive. */
  async node(nodeId: string): Promise<NodeInfo | undefined> {
    const record = await this.store.fetchNode(nodeId);
    return record === undefined ? undefined : this.decoder.decode(record);
  }
}
