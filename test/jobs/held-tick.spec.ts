import { beforeAll, describe, expect, it } from '@jest/globals';
import { RecordSigner } from '../../lib/common/record-signer.js';
import { heldTick } from '../../lib/jobs/held-tick.js';
import type {
  ClaimRequest,
  ClaimResult,
  JobClaimStore,
} from '../../lib/storage/job-claim-store.interface.js';
import { againstBothClaimStores } from '../support/job-claim-stores.js';

const P = 1000;
/** What a refusal read from the record must say exactly as the claim script says it. */
const SAME = ['status', 'tick', 'token', 'holder', 'signature', 'record', 'takenAs', 'retention'];

/**
 * A node that is not a job's owner reads the tick's record before it claims (one plain read):
 * where the read refuses the tick, the claim script refuses it the same way; where the script
 * could decide otherwise (no record, an unconfirmed grant, Redis lost data, a record that does
 * not verify), the read leaves the decision to it.
 */
function readBeforeClaim(
  name: string,
  setup: () => { store: JobClaimStore; now(): Promise<number> },
) {
  describe(name, () => {
    let store: JobClaimStore;
    let now: () => Promise<number>;
    let job = 0;
    let requests = 0;
    beforeAll(() => {
      ({ store, now } = setup());
    });

    async function freshJob() {
      const base = Math.floor((await now()) / P) * P - 5 * P;
      const jobKey = `held:job:{pool:${name}-${job++}}`;
      const request = (tick: number, nodeId: string, extra: Partial<ClaimRequest> = {}) => ({
        jobKey,
        tick,
        nodeId,
        signature: '',
        requestId: `r${(requests += 1)}`,
        notAfter: tick + 60_000,
        retention: 120_000,
        overlap: 'allow' as const,
        runLease: 5000,
        ...extra,
      });
      /** The read's answer for `tick` as node `b` (floor `tokenFloor`), and the script's. */
      const both = async (tick: number, tokenFloor = 0, signer?: RecordSigner) => {
        const read = heldTick(await store.record(jobKey, tick), {
          jobKey,
          tick,
          retention: 60_000,
          tokenFloor,
          signer,
        });
        const script = await store.claim(request(tick, 'b', { tokenFloor, retention: 60_000 }));
        return { read, script };
      };
      return { jobKey, base, request, both };
    }

    const same = (read: ClaimResult | undefined, script: ClaimResult) => {
      expect(read).toBeDefined();
      for (const field of SAME) {
        expect([field, read![field as keyof ClaimResult]]).toEqual([
          field,
          script[field as keyof ClaimResult],
        ]);
      }
    };

    it('a confirmed claim: refused on the read, exactly as the script refuses it', async () => {
      const { base, request, both } = await freshJob();
      const grant = await store.claim(request(base, 'a', { confirm: true }));
      await store.confirm({
        jobKey: request(base, 'a').jobKey,
        nodeId: 'a',
        grants: [{ tick: base, token: grant.token }],
      });
      const { read, script } = await both(base, grant.token);
      expect(script).toMatchObject({ status: 'taken', holder: 'a', takenAs: 'claimed' });
      same(read, script);
    });

    it('a claim final at once (a pool of one) and an overlap skip: refused on the read', async () => {
      const { base, request, both } = await freshJob();
      await store.claim(request(base, 'a', { overlap: 'skip' }));
      await store.claim(request(base + P, 'a', { overlap: 'skip' })); // skipped: the run goes on
      const final = await both(base);
      same(final.read, final.script);
      const skipped = await both(base + P);
      expect(skipped.script).toMatchObject({ status: 'taken', takenAs: 'overlap' });
      same(skipped.read, skipped.script);
    });

    it('no record, or a grant not yet confirmed (it may be taken over): left to the script', async () => {
      const { base, request, both } = await freshJob();
      expect(
        heldTick(await store.record(request(base, 'a').jobKey, base), {
          jobKey: request(base, 'a').jobKey,
          tick: base,
          retention: 60_000,
          tokenFloor: 0,
          signer: undefined,
        }),
      ).toBeUndefined();
      await store.claim(request(base + P, 'a', { confirm: true })); // takeoverAfter 0: abandoned
      const { read, script } = await both(base + P);
      expect(read).toBeUndefined();
      expect(script).toMatchObject({ status: 'claimed', holder: 'b', tookOver: 'a' });
    });

    it('a token floor above the stored token (Redis lost data): left to the script, which records it', async () => {
      const { base, request, both } = await freshJob();
      const first = await store.claim(request(base, 'a'));
      const { read, script } = await both(base, first.token + 1000);
      expect(read).toBeUndefined();
      expect(script.dataLostAt).toBeDefined();
    });

    it('with a key, a record that does not verify is left to the script (which overrides it)', async () => {
      const { base, request } = await freshJob();
      const signer = new RecordSigner('k'.repeat(32));
      const jobKey = request(base, 'a').jobKey;
      await store.claim(request(base, 'mallory', { signature: 'forged' }));
      const stored = await store.record(jobKey, base);
      const query = { jobKey, tick: base, retention: 60_000, tokenFloor: 0 };
      expect(heldTick(stored, { ...query, signer })).toBeUndefined();
      await store.claim(
        request(base + P, 'a', { signature: signer.sign(`${jobKey}\n${base + P}`) }),
      );
      const genuine = await store.record(jobKey, base + P);
      expect(heldTick(genuine, { ...query, tick: base + P, signer })?.holder).toBe('a');
    });
  });
}

describe('read before claim', () => {
  againstBothClaimStores('held-memory', readBeforeClaim);
});
