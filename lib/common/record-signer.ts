// HMAC-SHA256 signing and checking under `signingKey`: one signer, built by the module, for node
// records and job claims alike; a check is constant-time and refuses oversized signatures.
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC-SHA256 signatures of node records and job claims (option `signingKey`). Whoever can write
 * to Redis but lacks the key cannot make a peer accept a node, an update or a claim.
 */
export class RecordSigner {
  constructor(private readonly key: string) {}

  sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }

  verify(payload: string, signature: unknown): boolean {
    if (typeof signature !== 'string' || signature.length > 128) return false;
    const expected = Buffer.from(this.sign(payload));
    const actual = Buffer.from(signature);
    return expected.length === actual.length && timingSafeEqual(expected, actual);
  }
}
