// With `signingKey`, an event is only a hint (Redis scripts cannot sign): it counts if the signed
// record Redis holds for that node now says the same.
import type { RecordSigner } from '../../common/record-signer.js';
import type { RegistryStore } from '../../storage/registry-store.interface.js';
import type { NodeInfo } from '../node-info.interface.js';
import { decodeRecord, encodeRecord, type WireEvent } from './node-record.codec.js';

/** Whether Redis confirms `event`; throws when Redis cannot be read. */
export async function confirmEvent(
  store: Pick<RegistryStore, 'fetchNode'>,
  signer: RecordSigner,
  event: WireEvent,
): Promise<boolean> {
  const record = await store.fetchNode(event.node.nodeId);
  const current = record === undefined ? undefined : decodeRecord(record, signer);
  const alive = current !== undefined && typeof current !== 'string';
  return event.type === 'NODE_DEREGISTERED'
    ? !alive
    : alive && encodeRecord(current as NodeInfo) === encodeRecord(event.node);
}
