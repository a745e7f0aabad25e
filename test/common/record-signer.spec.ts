import { describe, expect, it } from '@jest/globals';
import { RecordSigner } from '../../lib/common/record-signer.js';

const OLD = 'the-old-key-of-the-cluster';
const NEW = 'the-new-key-of-the-cluster';

describe('RecordSigner: a key, or a list of keys (a rotation)', () => {
  it('signs with the first key of the list', () => {
    expect(new RecordSigner([NEW, OLD]).sign('payload')).toBe(
      new RecordSigner(NEW).sign('payload'),
    );
    expect(new RecordSigner([OLD, NEW]).sign('payload')).toBe(
      new RecordSigner(OLD).sign('payload'),
    );
  });

  it('verifies a signature made under any of its keys, and nothing else', () => {
    const rotating = new RecordSigner([OLD, NEW]);
    expect(rotating.verify('payload', new RecordSigner(OLD).sign('payload'))).toBe(true);
    expect(rotating.verify('payload', new RecordSigner(NEW).sign('payload'))).toBe(true);
    expect(
      rotating.verify('payload', new RecordSigner('a-third-key-of-nobody').sign('payload')),
    ).toBe(false);
    expect(rotating.verify('other payload', new RecordSigner(NEW).sign('payload'))).toBe(false);
    for (const forged of ['', 'not-a-signature', 42, undefined, 'x'.repeat(129)]) {
      expect(rotating.verify('payload', forged)).toBe(false);
    }
  });

  it('a node with the old key only does not accept the new one (why a rotation needs three steps)', () => {
    expect(new RecordSigner(OLD).verify('payload', new RecordSigner(NEW).sign('payload'))).toBe(
      false,
    );
  });
});
