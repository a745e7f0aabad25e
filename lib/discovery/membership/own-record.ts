// This node's record as it stands (address, services, metadata) and as it is stored: encoded
// (signed with a key) and tagged once per change, not once per heartbeat.
import { hostname } from 'node:os';
import type { RecordSigner } from '../../common/record-signer.js';
import type {
  ResolvedDiscoveryOptions,
  ServiceDescriptor,
} from '../../options/discovery-options.interface.js';
import { recordTag } from '../../storage/registry-digest.js';
import type { NodeInfo } from '../node-info.interface.js';
import { encodeRecord } from '../view/node-record.codec.js';

export interface RecordChange {
  address?: string;
  services?: ServiceDescriptor[];
  metadata?: Record<string, string>;
}

export class OwnRecord {
  private address: string;
  private services: ServiceDescriptor[];
  private metadata: Record<string, string>;
  private lastEncoded: { record: string; tag: string } | undefined;

  constructor(
    private readonly options: ResolvedDiscoveryOptions,
    private readonly signer: RecordSigner | undefined,
  ) {
    this.address = options.address ?? hostname();
    this.services = options.services.map((s) => ({ ...s }));
    this.metadata = { ...options.metadata };
  }

  /** This node as peers see it (a copy). */
  get node(): NodeInfo {
    return {
      nodeId: this.options.nodeId,
      serviceName: this.options.serviceName,
      address: this.address,
      services: this.services.map((s) => ({ ...s })),
      metadata: { ...this.metadata },
    };
  }

  apply(change: RecordChange): void {
    if (change.address !== undefined) this.address = change.address;
    if (change.services) this.services = change.services.map((s) => ({ ...s }));
    if (change.metadata) this.metadata = { ...change.metadata };
  }

  /** `node` as stored and its tag, computed again only when the record changed. */
  encoded(node: NodeInfo): { record: string; tag: string } {
    const record = encodeRecord(node, this.signer);
    if (this.lastEncoded?.record !== record) this.lastEncoded = { record, tag: recordTag(record) };
    return this.lastEncoded;
  }
}
