// The registry digest: each stored record has a tag (the first 48 bits of its SHA-1, as the Redis
// scripts compute it), and a digest is a sum of tags mod 2^48, so it updates per change.
import { hash } from 'node:crypto';

const MODULUS = 2 ** 48;

/** The tag of a stored record string (12 hex digits). */
export function recordTag(record: string): string {
  return hash('sha1', record, 'hex').slice(0, 12);
}

/** A tag as a number (exact: 48 bits). */
export function tagValue(tag: string): number {
  return parseInt(tag, 16);
}

/** `digest` with a tag value added (`sign` 1) or removed (`sign` -1). */
export function withTag(digest: number, value: number, sign: 1 | -1): number {
  return (((digest + sign * value) % MODULUS) + MODULUS) % MODULUS;
}
