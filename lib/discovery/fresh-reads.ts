// Lookups that read Redis now instead of the view (`{ fresh: true }`, and what a partial view
// does not keep): all nodes page by page, one service by its set, one node by id.
import type { RegistryStore } from '../storage/registry-store.interface.js';
import type { NodeInfo } from './node-info.interface.js';
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

  /** The record of `nodeId` if it is alive. */
  async node(nodeId: string): Promise<NodeInfo | undefined> {
    const record = await this.store.fetchNode(nodeId);
    return record === undefined ? undefined : this.decoder.decode(record);
  }
}
