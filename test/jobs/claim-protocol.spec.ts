import { beforeAll, describe, expect, it } from '@jest/globals';
import type { ClaimRequest, JobClaimStore } from '../../lib/storage/job-claim-store.interface.js';
import { againstBothClaimStores } from '../support/job-claim-stores.js';
import { waitFor } from '../support/redis-harness.js';

const P = 1000;

/**
 * The claim protocol as the stores implement it: the Redis scripts (real Redis) and the in-memory
 * registry must agree on every rule.
 */
function claimProtocol(
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

    /** A fresh job key and a request maker with a tick grid starting a few periods ago. */
    async function freshJob(overrides: Partial<ClaimRequest> = {}) {
      const base = Math.floor((await now()) / P) * P - 10 * P;
      const jobKey = `claims:job:{pool:${name}-${job++}}`;
      const request = (tick: number, nodeId = 'a', extra: Partial<ClaimRequest> = {}) =>
        store.claim({
          jobKey,
          tick,
          nodeId,
          signature: '',
          requestId: `r${(requests += 1)}`,
          notAfter: tick + 60_000,
          retention: 120_000,
          overlap: 'allow',
          runLease: 5000,
          ...overrides,
          ...extra,
        });
      return { jobKey, base, claim: request };
    }

    it('grants a tick to one claim; a second claim of it is told who holds it', async () => {
      const { base, claim } = await freshJob();
      const first = await claim(base, 'a');
      const second = await claim(base, 'b');
      expect(first).toMatchObject({ status: 'claimed', tick: base, holder: 'a' });
      expect(second).toMatchObject({
        status: 'taken',
        holder: 'a',
        token: first.token,
        takenAs: 'claimed',
      });
    });

    it('grants an earlier tick after a later one was claimed (per-tick, not "later than the last")', async () => {
      const { base, claim } = await freshJob();
      const later = await claim(base + P, 'a');
      const earlier = await claim(base, 'b');
      expect(later.status).toBe('claimed');
      expect(earlier).toMatchObject({ status: 'claimed', holder: 'b' });
      // Tokens grow in the order Redis granted the claims.
      expect(earlier.token).toBeGreaterThan(later.token);
    });

    it('refuses a claim after its starting deadline, and leaves the tick unclaimed', async () => {
      const { base, claim, jobKey } = await freshJob();
      const late = await claim(base, 'a', { notAfter: (await now()) - 1 });
      expect(late.status).toBe('late');
      expect(await store.recent(jobKey, 10)).toEqual([]);
    });

    it('refuses a claim before its clock tolerance (notBefore) as early, and leaves the tick unclaimed', async () => {
      const { base, claim, jobKey } = await freshJob();
      const early = await claim(base, 'a', { notBefore: (await now()) + 60_000 });
      expect(early.status).toBe('early');
      expect(await store.recent(jobKey, 10)).toEqual([]);
      const inTime = await claim(base, 'b', { notBefore: (await now()) - 1 });
      expect(inTime).toMatchObject({ status: 'claimed', holder: 'b' });
    });

    it('cooldown: a later window is taken while the newest record is younger than the cooldown', async () => {
      const { base, claim } = await freshJob({ cooldown: 60_000 });
      const first = await claim(base, 'a');
      const straddling = await claim(base + P, 'b');
      expect(straddling).toMatchObject({
        status: 'taken',
        tick: base,
        holder: 'a',
        token: first.token,
        takenAs: 'claimed',
      });
      const { claim: noCooldown } = await freshJob({ cooldown: 1 });
      await noCooldown(base, 'a');
      await new Promise((resolve) => setTimeout(resolve, 5));
      expect((await noCooldown(base + P, 'b')).status).toBe('claimed');
    });

    it('gives tokens that only grow and are at least Redis time in ms', async () => {
      const { base, claim } = await freshJob();
      const tokens: number[] = [];
      for (let i = 0; i < 5; i++) {
        const result = await claim(base + i * P);
        expect(result.token).toBeGreaterThanOrEqual(result.serverTime);
        tokens.push(result.token);
      }
      expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
      expect(new Set(tokens).size).toBe(5);
    });

    it('drops tick records older than the retention as claims come (bounded memory)', async () => {
      const { base, claim, jobKey } = await freshJob({ retention: 4 * P });
      // Ticks 10..1 periods old; each claim trims what is older than 4 periods.
      for (let i = 0; i < 10; i++) await claim(base + i * P);
      const kept = (await store.recent(jobKey, 100)).map((r) => r.tick);
      const cutoff = (await now()) - 4 * P;
      expect(kept.length).toBeGreaterThan(0);
      expect(kept.every((tick) => tick >= cutoff - P)).toBe(true);
      expect(kept.length).toBeLessThanOrEqual(6);
    });

    it('reports recent claims newest first, with node, token, status and delay', async () => {
      const { base, claim, jobKey } = await freshJob();
      const a = await claim(base, 'a');
      const b = await claim(base + P, 'b');
      const records = await store.recent(jobKey, 10);
      expect(records.map((r) => [r.tick, r.nodeId, r.token, r.status])).toEqual([
        [base + P, 'b', b.token, 'claimed'],
        [base, 'a', a.token, 'claimed'],
      ]);
      expect(records[0].at).toBe(b.serverTime);
    });

    describe('overlap', () => {
      it('skip: a tick that comes while a run holds the marker is skipped and recorded', async () => {
        const { base, claim, jobKey } = await freshJob({ overlap: 'skip' });
        const running = await claim(base, 'a');
        expect(await claim(base + P, 'b')).toMatchObject({ status: 'overlap' });
        // Another node asking for the skipped tick learns it was skipped, not claimed.
        expect(await claim(base + P, 'c')).toMatchObject({ status: 'taken', takenAs: 'overlap' });
        expect(
          await store.release({
            jobKey,
            token: running.token,
            nodeId: 'a',
            runLease: 5000,
            retention: 120_000,
            takeNext: true,
          }),
        ).toEqual({
          held: true,
          serverTime: expect.any(Number),
          next: undefined,
        });
        expect((await claim(base + 2 * P, 'b')).status).toBe('claimed');
      });

      it('bufferOne: one tick waits and is claimed for the releasing node; further ones are skipped', async () => {
        const { base, claim, jobKey } = await freshJob({ overlap: 'bufferOne' });
        const running = await claim(base, 'a');
        expect((await claim(base + P, 'b')).status).toBe('buffered');
        expect((await claim(base + 2 * P, 'c')).status).toBe('overlap');
        const released = await store.release({
          jobKey,
          token: running.token,
          nodeId: 'a',
          runLease: 5000,
          retention: 120_000,
          takeNext: true,
        });
        expect(released.held).toBe(true);
        expect(released.next).toMatchObject({ tick: base + P });
        expect(released.next!.token).toBeGreaterThan(running.token);
        const records = await store.recent(jobKey, 10);
        expect(records.find((r) => r.tick === base + P)).toMatchObject({
          status: 'claimed',
          nodeId: 'a',
        });
        // Nothing waits any more: the next release frees the marker.
        expect(
          await store.release({
            jobKey,
            token: released.next!.token,
            nodeId: 'a',
            runLease: 5000,
            retention: 120_000,
            takeNext: true,
          }),
        ).toEqual({ held: true, serverTime: expect.any(Number), next: undefined });
      });

      it('bufferOne: when the run it waited for dies, the waiting tick runs with the next claim and that one waits', async () => {
        const { base, claim } = await freshJob({ overlap: 'bufferOne' });
        const dying = await claim(base, 'a', { runLease: 50 });
        expect((await claim(base + P, 'b')).status).toBe('buffered');
        await waitFor(async () => (await now()) > dying.serverTime + 50, { timeout: 2000 });
        const next = await claim(base + 2 * P, 'c');
        expect(next).toMatchObject({ status: 'claimed', tick: base + P, holder: 'c' });
        expect((await claim(base + 2 * P, 'd')).takenAs).toBe('buffered');
      });

      it('bufferOne: a node that shuts down leaves the waiting tick to the next claim', async () => {
        const { base, claim, jobKey } = await freshJob({ overlap: 'bufferOne' });
        const running = await claim(base, 'a');
        await claim(base + P, 'b');
        const released = await store.release({
          jobKey,
          token: running.token,
          nodeId: 'a',
          runLease: 5000,
          retention: 120_000,
          takeNext: false,
        });
        expect(released).toEqual({ held: true, serverTime: expect.any(Number), next: undefined });
        expect(await claim(base + 2 * P, 'c')).toMatchObject({ status: 'claimed', tick: base + P });
      });

      it('cancelOther: the new tick is claimed at once and names the run it cancels, whose marker is gone', async () => {
        const { base, claim, jobKey } = await freshJob({ overlap: 'cancelOther' });
        const old = await claim(base, 'a');
        const fresh = await claim(base + P, 'b');
        expect(fresh).toMatchObject({ status: 'claimed', cancelled: old.token });
        expect(await store.renew({ jobKey, token: old.token, runLease: 5000 })).toBe(false);
        expect(await store.renew({ jobKey, token: fresh.token, runLease: 5000 })).toBe(true);
        expect(
          (
            await store.release({
              jobKey,
              token: old.token,
              nodeId: 'a',
              runLease: 5000,
              retention: 120_000,
              takeNext: true,
            })
          ).held,
        ).toBe(false);
      });
    });

    describe('catch-up', () => {
      const signed = (ticks: number[]) =>
        ticks.map((tick) => ({ tick, notAfter: tick + 60_000, signature: '' }));

      it('claims the missed ticks after the last record, oldest first, with smaller tokens', async () => {
        const { base, claim } = await freshJob();
        await claim(base);
        const missed = [base + P, base + 2 * P, base + 3 * P];
        const result = await claim(base + 4 * P, 'a', {
          catchup: { window: 60_000, ticks: signed([base - P, ...missed]) },
        });
        expect(result.status).toBe('claimed');
        expect(result.catchup.map((c) => c.tick)).toEqual(missed);
        const tokens = [...result.catchup.map((c) => c.token), result.token];
        expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
      });

      it('skips candidates already claimed, older than the window, or of a job never run', async () => {
        const { base, claim } = await freshJob();
        const none = await claim(base + 5 * P, 'a', {
          catchup: { window: 60_000, ticks: signed([base + 4 * P]) },
        });
        expect(none.catchup).toEqual([]); // no record before: nothing counts as missed
        await claim(base + 7 * P, 'b');
        const result = await claim(base + 9 * P, 'a', {
          catchup: {
            window: (await now()) - (base + 6 * P) - 1,
            ticks: signed([base + 6 * P, base + 7 * P, base + 8 * P]),
          },
        });
        expect(result.catchup.map((c) => c.tick)).toEqual([base + 8 * P]);
      });
    });

    describe('grants confirmed before they run', () => {
      it('a grant that needs confirming is granted, then claimed once confirmed, and then final', async () => {
        const { base, claim, jobKey } = await freshJob({ confirm: true, takeoverAfter: 0 });
        const grant = await claim(base, 'a');
        expect(grant).toMatchObject({ status: 'claimed', holder: 'a' });
        expect((await store.recent(jobKey, 1))[0].status).toBe('granted');
        const confirmed = await store.confirm({
          jobKey,
          nodeId: 'a',
          grants: [{ tick: base, token: grant.token }],
        });
        expect(confirmed.confirmed).toEqual([true]);
        expect((await store.recent(jobKey, 1))[0].status).toBe('claimed');
        // Confirmed: no later claim takes it over, however old.
        expect(await claim(base, 'b')).toMatchObject({ status: 'taken', holder: 'a' });
      });

      it('an unconfirmed grant is taken over once takeoverAfter old; its node cannot confirm it then', async () => {
        const { base, claim, jobKey } = await freshJob({ confirm: true, takeoverAfter: 100_000 });
        const lost = await claim(base, 'a');
        // Not yet old enough: the owner may still confirm.
        expect(await claim(base, 'b')).toMatchObject({
          status: 'taken',
          holder: 'a',
          takenAs: 'granted',
        });
        const takeover = await claim(base, 'b', { takeoverAfter: 0 });
        expect(takeover).toMatchObject({ status: 'claimed', holder: 'b', tookOver: 'a' });
        expect(takeover.token).toBeGreaterThan(lost.token);
        const late = await store.confirm({
          jobKey,
          nodeId: 'a',
          grants: [{ tick: base, token: lost.token }],
        });
        expect(late.confirmed).toEqual([false]);
        const taker = { tick: base, token: takeover.token };
        expect((await store.confirm({ jobKey, nodeId: 'b', grants: [taker] })).confirmed).toEqual([
          true,
        ]);
        expect(await claim(base, 'c', { takeoverAfter: 0 })).toMatchObject({
          status: 'taken',
          holder: 'b',
        });
      });

      it('a final grant (no confirm) is never taken over', async () => {
        const { base, claim } = await freshJob();
        await claim(base, 'a');
        expect(await claim(base, 'b', { confirm: true, takeoverAfter: 0 })).toMatchObject({
          status: 'taken',
          holder: 'a',
        });
      });

      it('the same request sent again gets the same grant, not "taken"', async () => {
        const { base, claim } = await freshJob({ confirm: true });
        const first = await claim(base, 'a', { requestId: 'resent' });
        const again = await claim(base, 'a', { requestId: 'resent' });
        expect(again).toMatchObject({ status: 'claimed', holder: 'a', token: first.token });
        expect(await claim(base, 'a')).toMatchObject({ status: 'taken' }); // another request
      });
    });

    it('a grant given back can be claimed by another node; only its holder can give it back', async () => {
      const { base, claim, jobKey } = await freshJob();
      const grant = await claim(base, 'a');
      expect(await store.giveBack({ jobKey, nodeId: 'b', tick: base, token: grant.token })).toBe(
        false,
      );
      expect(
        await store.giveBack({ jobKey, nodeId: 'a', tick: base, token: grant.token + 1 }),
      ).toBe(false);
      expect(await store.giveBack({ jobKey, nodeId: 'a', tick: base, token: grant.token })).toBe(
        true,
      );
      const peer = await claim(base, 'b');
      expect(peer).toMatchObject({ status: 'claimed', holder: 'b' });
      expect(peer.token).toBeGreaterThan(grant.token);
    });

    it('tokens stay above the floor a claimer sends, even when the job key was lost', async () => {
      const { claim } = await freshJob();
      // An empty key (its data lost) and a floor from a Redis whose clock ran ahead; the ticks
      // open after the loss is found (no notBefore: at their own time), so they are claimed.
      const floor = (await now()) + 10_000;
      const first = await claim((await now()) + 5 * P, 'a', { tokenFloor: floor });
      expect(first).toMatchObject({ status: 'claimed', token: floor + 1 });
      const fresh = await freshJob();
      const after = await fresh.claim((await now()) + 6 * P, 'b', { tokenFloor: first.token });
      expect(after.status).toBe('claimed');
      expect(after.token).toBeGreaterThan(first.token);
    });

    it('keeps records for the longest retention any claimer asked for (mixed settings)', async () => {
      const { base, claim, jobKey } = await freshJob({ retention: 120_000 });
      await claim(base, 'a');
      const short = await claim(base + 9 * P, 'b', { retention: 1000 });
      expect(short.retention).toBe(120_000);
      expect((await store.recent(jobKey, 10)).map((r) => r.tick)).toContain(base);
    });

    it('refuses catch-up candidates past their own notAfter', async () => {
      const { base, claim } = await freshJob();
      await claim(base);
      const result = await claim(base + 3 * P, 'a', {
        catchup: {
          window: 60_000,
          ticks: [
            { tick: base + P, notAfter: (await now()) - 1, signature: '' },
            { tick: base + 2 * P, notAfter: (await now()) + 60_000, signature: '' },
          ],
        },
      });
      expect(result.catchup.map((c) => c.tick)).toEqual([base + 2 * P]);
    });

    it('after a claim finds a lower token than its node saw (data lost), ticks claimable before then run nowhere', async () => {
      const { base, claim } = await freshJob();
      const first = await claim(base);
      const floor = first.token + 1000;
      // Redis holds a token below one this node saw: the records of ticks that ran may be gone.
      const finder = await claim(base + P, 'a', { tokenFloor: floor });
      expect(finder.status).toBe('lost');
      expect(finder.dataLostAt).toBeGreaterThan(0);
      // Every node, with or without a floor, finds it held as lost, or refused the same way.
      expect(await claim(base + P, 'b')).toMatchObject({ status: 'taken', takenAs: 'lost' });
      expect((await claim(base + 2 * P, 'b')).status).toBe('lost');
      // A tick that opens after the loss was found is claimed, above the floor, catching nothing
      // up from before the loss.
      const later = await claim((await now()) + 5 * P, 'b', {
        catchup: {
          window: 60_000,
          ticks: [{ tick: base + 3 * P, notAfter: (await now()) + 60_000, signature: '' }],
        },
      });
      expect(later.status).toBe('claimed');
      expect(later.token).toBeGreaterThan(floor);
      expect(later.catchup).toEqual([]);
      expect(later.dataLostAt).toBe(finder.dataLostAt);
    });

    it('overrides a record without a signature, exactly the one it names', async () => {
      const { base, claim } = await freshJob();
      await claim(base, 'mallory'); // no signature at all: '' must not mean "no override"
      const blocked = await claim(base, 'a', { signature: 'good' });
      expect(blocked).toMatchObject({ status: 'taken', holder: 'mallory' });
      const stale = await claim(base, 'a', {
        signature: 'good',
        override: { kind: 'record', value: blocked.record + 'x' },
      });
      expect(stale).toMatchObject({ status: 'taken', holder: 'mallory' });
      const overridden = await claim(base, 'a', {
        signature: 'good',
        override: { kind: 'record', value: blocked.record },
      });
      expect(overridden).toMatchObject({ status: 'claimed', holder: 'a' });
    });

    it('names the record behind a run marker, and disregards that marker when overridden', async () => {
      const { base, claim } = await freshJob({ overlap: 'skip' });
      await claim(base, 'mallory', { signature: 'bad' });
      const blocked = await claim(base + P, 'a', { signature: 'good' });
      expect(blocked).toMatchObject({
        status: 'overlap',
        holder: 'mallory',
        signature: 'bad',
        markerTick: base,
      });
      const overridden = await claim(base + 2 * P, 'a', {
        signature: 'good',
        override: { kind: 'marker', value: blocked.record },
      });
      expect(overridden).toMatchObject({ status: 'claimed', holder: 'a' });
    });

    it.each<['skip' | 'bufferOne']>([['skip'], ['bufferOne']])(
      'a %s claim refused by a forged marker, sent again with the override, runs its own tick',
      async (overlap) => {
        const { base, claim } = await freshJob({ overlap });
        await claim(base, 'mallory', { signature: 'bad' });
        const request = { signature: 'good', requestId: `again-${overlap}-${requests++}` };
        const blocked = await claim(base + P, 'a', request);
        expect(blocked.status).toBe(overlap === 'skip' ? 'overlap' : 'buffered');
        const overridden = await claim(base + P, 'a', {
          ...request,
          override: { kind: 'marker', value: blocked.record },
        });
        expect(overridden).toMatchObject({ status: 'claimed', tick: base + P, holder: 'a' });
        // Nothing waits any more: the next tick is held by this run's marker, not by the first.
        const next = await claim(base + 2 * P, 'b', { signature: 'good' });
        expect(next).toMatchObject({ holder: 'a', markerTick: base + P });
      },
    );

    it('disregards a record whose signature a node found forged', async () => {
      const { base, claim } = await freshJob();
      const forged = await claim(base, 'mallory', { signature: 'not-a-real-hmac' });
      expect(forged.status).toBe('claimed');
      const blocked = await claim(base, 'a', { signature: 'good' });
      expect(blocked).toMatchObject({ status: 'taken', signature: 'not-a-real-hmac' });
      const overridden = await claim(base, 'a', {
        signature: 'good',
        override: { kind: 'record', value: blocked.record },
      });
      expect(overridden).toMatchObject({ status: 'claimed', holder: 'a', signature: 'good' });
    });
  });
}

describe('claim protocol', () => {
  againstBothClaimStores('claims-memory', claimProtocol);
});
