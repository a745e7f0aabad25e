// HMAC-SHA256 signing and checking under `signingKey`: one signer, built by the module, for node
// records and job claims alike. It signs with the first key and accepts a signature of any key
// (a rotation); a check is constant-time and refuses oversized signatures.
import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * HMAC-SHA256 signatures of node records and job claims (option `signingKey`). Whoever can write
 * to Redis but lacks every key cannot make a peer accept a node, an update or a claim.
 */
export class RecordSigner {
  private readonly keys: readonly string[];

  /** `keys`: the signing key first, then keys whose signatures are still accepted (a rotation). */
  constructor(keys: string | readonly string[]) {
    this.keys = typeof keys === 'string' ? [keys] : [...keys];
    if (this.keys.length === 0) throw new Error('RecordSigner needs at least one key');
  }

  sign(payload: string): string {
    return hmac(this.keys[0], payload);
  }

  /** True when `signature` is the HMAC of `payload` under any of the keys. */
  verify(payload: string, signature: unknown): boolean {
    if (typeof signature !== 'string' || signature.length > 128) return false;
    const actual = Buffer.from(signature);
    let verified = false;
    // Every key is tried (no early exit): the time taken does not say which key matched.
    for (const key of this.keys) {
      const expected = Buffer.from(hmac(key, payload));
      if (expected.length === actual.length && timingSafeEqual(expected, actual)) verified = true;
    }
    return verified;
  }
}

function hmac(key: string, payload: string): string {
  return createHmac('sha256', key).update(payload).digest('base64url');
}
