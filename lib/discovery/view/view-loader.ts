// Reads what a view holds from Redis: the whole registry page by page (decoding one page while
// the next is on its way), or the pools and services of a partial view.
import { ServerClock } from '../../common/server-clock.js';
import { tagValue } from '../../storage/registry-digest.js';
import type { RegistryStore, RegistryVersion } from '../../storage/registry-store.interface.js';
import type { NodeInfo } from '../node-info.interface.js';
import type { RecordDecoder } from './record-decoder.js';
import type { RegistryView } from './registry-view.js';

export interface LoadedView {
  epoch: string;
  version: number;
  serverTime: number;
  nodes: Array<{ node: NodeInfo; tag: number }>;
  /** Live records left out: they did not decode or verify. */
  skipped: number;
}

export class ViewLoader {
  constructor(
    private readonly store: RegistryStore,
    private readonly clock: ServerClock,
    private readonly decoder: RecordDecoder,
    private readonly view: RegistryView,
  ) {}

  /**
   * What the view should hold, as of the version read first. The reads are not one atomic read:
   * changes made meanwhile come as events, applied on top by the caller. Without events
   * (`settled`), they are repeated until the version did not move (three tries at most).
   */
  async load(settled: boolean): Promise<LoadedView> {
    for (let attempt = 1; ; attempt++) {
      const nodes = new Map<string, { node: NodeInfo; tag: number }>();
      let skipped = 0;
      const onPage = (records: string[], tags: string[], unvouched = 0) => {
        skipped += unvouched;
        for (let i = 0; i < records.length; i++) {
          const node = this.decoder.decode(records[i], false);
          if (node) nodes.set(node.nodeId, { node, tag: tagValue(tags[i]) });
          else skipped += 1;
        }
      };
      const [first, last] = await this.read(onPage);
      if (first.epoch !== last.epoch) continue; // the data was lost meanwhile: again
      if (first.version !== last.version && settled && attempt < 3) continue;
      return {
        epoch: first.epoch,
        version: first.version,
        serverTime: last.serverTime,
        nodes: [...nodes.values()],
        skipped,
      };
    }
  }

  /** Every live record of the registry, page by page. */
  async pages(onRecords: (records: string[]) => void): Promise<void> {
    const first = await this.state();
    await this.store.snapshot(first.serverTime, onRecords);
  }

  /** Redis time now: one round trip (`version`) until the clock has been synced, then none. */
  async serverNow(): Promise<number> {
    if (!this.clock.synced) await this.state();
    return this.clock.now();
  }

  private async read(
    onPage: (records: string[], tags: string[], skipped?: number) => void,
  ): Promise<[RegistryVersion, RegistryVersion]> {
    const scope = this.view.scope;
    if (scope.all) {
      const first = await this.state();
      return [first, await this.store.snapshot(first.serverTime, onPage)];
    }
    const fields = this.view.digests.fields;
    const reads = await Promise.all([
      ...[...scope.pools].map((pool) => this.store.fetchScope('pool', pool, fields)),
      ...[...scope.services].map((service) => this.store.fetchScope('svc', service, fields)),
    ]);
    for (const read of reads) onPage(read.records, read.tags);
    return [reads[0], reads[reads.length - 1]];
  }

  private async state(): Promise<RegistryVersion> {
    const sentAt = ServerClock.local();
    const state = await this.store.version(this.view.scope.all ? [] : this.view.digests.fields);
    this.clock.observe(state.serverTime, sentAt, ServerClock.local());
    return state;
  }
}
