// The registry digest: each stored record has a tag (the first 48 bits of its SHA-1, as the Redis
// scripts compute it), and the digest is the sum of the tags mod 2^48, so it updates per change.
import { hash } from 'node:crypto';

const MODULUS = 2 ** 48;

/** The tag of a stored record string (12 hex digits). */
export function recordTag(record: string): string {
  return hash('sha1', record, 'hex').slice(0, 12);
}

/** The digest with `tag` added (`sign` 1) or removed (`sign` -1). */
export function withTag(digest: number, tag: string, sign: 1 | -1): number {
  return (((digest + sign * parseInt(tag, 16)) % MODULUS) + MODULUS) % MODULUS;
}
