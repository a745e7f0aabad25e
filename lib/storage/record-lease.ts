// Signed leases (with `signingKey`): each heartbeat signs "this instance vouches for the record
// with this tag until this Redis time", and the stores believe a record only while its owner's
// lease verifies, names that record and has not run out. A genuine old record written back is
// not believed (its tag is not the lease's), and a node that is gone cannot be brought back
// with its last record without the key (its last lease has run out).
import type { RecordSigner } from '../common/record-signer.js';
import { recordTag } from './registry-digest.js';

export class RecordLeases {
  constructor(private readonly signer: RecordSigner) {}

  /** The words a heartbeat appends to its owner field: '<until> <signature>'. */
  issue(nodeId: string, instance: string, tag: string, until: number): string {
    const at = Math.floor(until);
    return `${at} ${this.signer.sign(payload(nodeId, instance, tag, at))}`;
  }

  /**
   * Until when (Redis time, ms) the owner field `owner` vouches for `record` of `nodeId`: 0 when
   * it does not (no lease, a signature that does not verify, or a lease for another record).
   */
  validUntil(nodeId: string, record: string, owner: string | null | undefined): number {
    if (!owner) return 0;
    const [instance, tag, , , until, signature] = owner.split(' ');
    if (!until || !signature || instance === 'gone' || instance === '-') return 0;
    const at = Number(until);
    if (!Number.isSafeInteger(at) || tag !== recordTag(record)) return 0;
    return this.signer.verify(payload(nodeId, instance, tag, at), signature) ? at : 0;
  }
}

function payload(nodeId: string, instance: string, tag: string, until: number): string {
  return `lease ${nodeId} ${instance} ${tag} ${until}`;
}
