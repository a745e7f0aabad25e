import { beforeAll, describe, expect, it } from '@jest/globals';
import type { ClaimRequest, JobClaimStore } from '../../lib/storage/job-claim-store.interface.js';
import type {
  RecordRunRequest,
  TriggerRequest,
} from '../../lib/storage/job-operations.interface.js';
import { RedisJobClaimStore } from '../../lib/storage/redis/redis-job-claim.store.js';
import { againstBothClaimStores } from '../support/job-claim-stores.js';

const P = 1000;

/**
 * Operating a job as the stores implement it (pause, trigger, history, totals, describe): the
 * Redis scripts (real Redis) and the in-memory registry must agree on every rule.
 */
function operationsProtocol(
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

    async function freshJob(overrides: Partial<ClaimRequest> = {}) {
      const base = Math.floor((await now()) / P) * P - 10 * P;
      const jobKey = `ops:job:{pool:${name}-${job++}}`;
      const claim = (tick: number, nodeId = 'a', extra: Partial<ClaimRequest> = {}) =>
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
      const pause = (paused: boolean, extra: { reason?: string; initiallyPaused?: boolean } = {}) =>
        store.setPaused({
          jobKey,
          paused,
          reason: extra.reason ?? '',
          nodeId: 'operator',
          initiallyPaused: extra.initiallyPaused ?? false,
        });
      let lastTick = 0;
      const trigger = async (nodeId = 'a', extra: Partial<TriggerRequest> = {}) =>
        store.trigger({
          jobKey,
          // Two triggers in one ms would name the same tick (the caller then asks again).
          tick: (lastTick = Math.max(await now(), lastTick + 1)),
          nodeId,
          signature: '',
          requestId: `t${(requests += 1)}`,
          overlap: overrides.overlap ?? 'allow',
          runLease: 5000,
          initiallyPaused: false,
          exclusive: true,
          ...extra,
        });
      const record = (
        entry: Partial<RecordRunRequest['entry']>,
        extra: Partial<RecordRunRequest> = {},
      ) =>
        store.recordRun({
          jobKey,
          limit: 100,
          pauseAfterFailures: 0,
          final: true,
          ...extra,
          entry: {
            tick: base,
            node: 'a',
            token: 1,
            start: base,
            outcome: 'ok',
            attempt: 1,
            kind: 'schedule',
            ...entry,
          },
        });
      const describeJob = (limit = 100, initiallyPaused = false) =>
        store.describe(jobKey, limit, initiallyPaused);
      const backfill = (ticks: number[], nodeId = 'a', historyLimit = 100) =>
        store.backfill({
          jobKey,
          nodeId,
          ticks: ticks.map((tick) => ({ tick, signature: '' })),
          requestId: `b${(requests += 1)}`,
          initiallyPaused: false,
          historyLimit,
        });
      return { jobKey, base, claim, pause, trigger, record, backfill, describe: describeJob };
    }

    describe('pause and resume', () => {
      it('a paused job refuses every claim, records the tick as paused once, and runs again after a resume', async () => {
        const { base, claim, pause, describe: show } = await freshJob();
        expect((await claim(base)).status).toBe('claimed');
        expect(await pause(true, { reason: 'maintenance' })).toMatchObject({ wasPaused: false });
        const refused = await claim(base + P, 'a');
        expect(refused).toMatchObject({ status: 'paused', holder: 'operator', token: 0 });
        // Every other node asking for that tick learns it was skipped as paused.
        expect(await claim(base + P, 'b')).toMatchObject({ status: 'taken', takenAs: 'paused' });
        expect(await claim(base + P, 'c')).toMatchObject({ status: 'taken', takenAs: 'paused' });
        expect((await claim(base + 2 * P, 'b')).status).toBe('paused');
        const paused = await show();
        expect(paused).toMatchObject({
          paused: true,
          pauseReason: 'maintenance',
          pausedBy: 'operator',
        });
        expect(paused.pausedAt).toBeGreaterThanOrEqual(refused.serverTime - 1000);
        // Two ticks skipped, each counted once for the cluster.
        expect(paused.totals.skipped.paused).toBe(2);
        expect(await pause(false)).toMatchObject({ wasPaused: true });
        expect(await claim(base + 3 * P, 'c')).toMatchObject({ status: 'claimed', holder: 'c' });
        expect(await show()).toMatchObject({ paused: false, pauseReason: undefined });
      });

      it('the job option `paused: true` holds until a pause or resume sets the state; then the state wins', async () => {
        const { base, claim, pause, describe: show } = await freshJob({ initiallyPaused: true });
        expect((await claim(base)).status).toBe('paused');
        expect((await show(10, true)).paused).toBe(true);
        expect(await pause(false, { initiallyPaused: true })).toMatchObject({ wasPaused: true });
        // Every node still sends its option; the resume overrides it for good.
        expect((await claim(base + P)).status).toBe('claimed');
        expect((await show(10, true)).paused).toBe(false);
        await pause(true);
        expect((await claim(base + 2 * P, 'a', { initiallyPaused: false })).status).toBe('paused');
      });

      it('ticks skipped while paused are not caught up after the resume', async () => {
        const { base, claim, pause } = await freshJob();
        await claim(base);
        await pause(true);
        await claim(base + P);
        await claim(base + 2 * P);
        await pause(false);
        const ticks = [base + P, base + 2 * P].map((tick) => ({
          tick,
          notAfter: tick + 60_000,
          signature: '',
        }));
        const next = await claim(base + 3 * P, 'a', { catchup: { window: 60_000, ticks } });
        expect(next.status).toBe('claimed');
        expect(next.catchup).toEqual([]);
      });

      it('bufferOne: a tick waiting when its run ends does not start while the job is paused', async () => {
        const {
          base,
          claim,
          pause,
          jobKey,
          describe: show,
        } = await freshJob({
          overlap: 'bufferOne',
        });
        const running = await claim(base, 'a');
        expect((await claim(base + P, 'b')).status).toBe('buffered');
        await pause(true);
        const released = await store.release({
          jobKey,
          token: running.token,
          nodeId: 'a',
          runLease: 5000,
          retention: 120_000,
          takeNext: true,
        });
        expect(released).toEqual({ held: true, serverTime: expect.any(Number), next: undefined });
        expect((await store.recent(jobKey, 10)).find((r) => r.tick === base + P)?.status).toBe(
          'paused',
        );
        expect((await show()).totals.skipped.paused).toBe(1);
      });
    });

    describe('trigger', () => {
      it('claims a run now with a fencing token above the scheduled ones, and counts it', async () => {
        const { base, claim, trigger, describe: show } = await freshJob();
        const scheduled = await claim(base);
        const triggered = await trigger('b');
        expect(triggered).toMatchObject({ status: 'claimed', holder: 'b', holdsMarker: true });
        expect(triggered.token).toBeGreaterThan(scheduled.token);
        expect((await show()).totals.triggered).toBe(1);
      });

      it('is refused while paused, and names who paused', async () => {
        const { trigger, pause } = await freshJob();
        await pause(true);
        expect(await trigger()).toMatchObject({ status: 'paused', holder: 'operator', token: 0 });
      });

      it('exclusive (default): a second trigger while the first runs is refused; after its release it runs', async () => {
        const { trigger, jobKey } = await freshJob();
        const first = await trigger('a');
        expect(await trigger('b')).toMatchObject({ status: 'overlap', holder: 'a' });
        await store.release({
          jobKey,
          token: first.token,
          nodeId: 'a',
          runLease: 5000,
          retention: 120_000,
          takeNext: true,
        });
        expect((await trigger('b')).status).toBe('claimed');
      });

      it('not exclusive, an `allow` job: two triggers both run, neither holds the marker', async () => {
        const { trigger } = await freshJob();
        const [a, b] = [
          await trigger('a', { exclusive: false }),
          await trigger('b', { exclusive: false }),
        ];
        expect([a.status, b.status, a.holdsMarker, b.holdsMarker]).toEqual([
          'claimed',
          'claimed',
          false,
          false,
        ]);
      });

      it('obeys the overlap policy against a scheduled run: skip refuses, cancelOther cancels it', async () => {
        const skip = await freshJob({ overlap: 'skip' });
        await skip.claim(skip.base);
        expect((await skip.trigger('b')).status).toBe('overlap');
        const cancel = await freshJob({ overlap: 'cancelOther' });
        const running = await cancel.claim(cancel.base);
        expect(await cancel.trigger('b')).toMatchObject({
          status: 'claimed',
          cancelled: running.token,
        });
      });

      it('refuses a tick that already has a record (taken), so the caller asks with another', async () => {
        const { base, claim, trigger } = await freshJob();
        await claim(base);
        expect((await trigger('b', { tick: base })).status).toBe('taken');
      });
    });

    describe('backfill', () => {
      it('claims the oldest tick that never ran, skipping those recorded, in the history or backfilled', async () => {
        const { base, claim, record, backfill, describe: show } = await freshJob();
        const ticks = [0, 1, 2, 3, 4].map((i) => base - 100 * P + i * P);
        // A record of the schedule (a claim as late as its deadline allowed).
        expect((await claim(ticks[0], 'a', { notAfter: (await now()) + 60_000 })).status).toBe(
          'claimed',
        );
        await record({ tick: ticks[1], token: 5 }); // ran; its record is long gone
        const first = await backfill(ticks, 'a');
        expect(first).toMatchObject({
          status: 'claimed',
          tick: ticks[2],
          skipped: [
            { tick: ticks[0], reason: 'recorded' },
            { tick: ticks[1], reason: 'ran' },
          ],
        });
        // Another node backfilling the same range at once gets the next tick, never the same.
        const other = await backfill(ticks, 'b');
        expect(other).toMatchObject({ status: 'claimed', tick: ticks[3] });
        expect(other.token).toBeGreaterThan(first.token!);
        expect((await backfill(ticks.slice(2, 4), 'c')).status).toBe('none');
        expect((await show()).totals.backfilled).toBe(2);
      });

      it('a backfilled tick stays claimed after the schedule trims its record', async () => {
        const { base, claim, backfill } = await freshJob({ retention: 1000 });
        const old = base - 100 * P;
        expect((await backfill([old])).status).toBe('claimed');
        await claim(base); // trims records older than its retention: the backfill's too
        expect(await backfill([old], 'b')).toMatchObject({
          status: 'none',
          skipped: [{ tick: old, reason: 'backfilled' }],
        });
      });

      it('skips, as lost, ticks before Redis was found to have lost data (a floor above its token)', async () => {
        const { base, backfill, jobKey } = await freshJob();
        const ticks = [base - 50 * P, base - 49 * P];
        // A claimer saw a token far above what the store holds: the store lost data.
        const after = await store.backfill({
          jobKey,
          nodeId: 'a',
          ticks: ticks.map((tick) => ({ tick, signature: '' })),
          requestId: 'lost',
          tokenFloor: (await now()) + 60_000,
          initiallyPaused: false,
          historyLimit: 100,
        });
        expect(after).toMatchObject({
          status: 'none',
          skipped: [
            { tick: ticks[0], reason: 'lost' },
            { tick: ticks[1], reason: 'lost' },
          ],
        });
        expect((await backfill(ticks)).status).toBe('none');
      });

      it('is refused while paused, and when a full history cannot tell whether the ticks ran', async () => {
        const { base, record, backfill, pause } = await freshJob();
        for (let i = 0; i < 3; i++) await record({ tick: base - 10 * P + i * P });
        const tooOld = await backfill([base - 20 * P], 'a', 3);
        expect(tooOld).toMatchObject({ status: 'unknown', oldestKnown: base - 10 * P });
        expect((await backfill([base - 20 * P], 'a', 4)).status).toBe('claimed');
        await pause(true);
        expect((await backfill([base - 30 * P])).status).toBe('paused');
      });
    });

    describe('history and totals', () => {
      it('keeps the newest runs up to the limit, newest first, with every field', async () => {
        const { base, record, describe: show } = await freshJob();
        for (let i = 0; i < 7; i++) {
          await record(
            { tick: base + i * P, token: 10 + i, start: base + i * P + 3 },
            { limit: 5 },
          );
        }
        const { runs, totals, serverTime } = await show();
        expect(runs.map((r) => r.tick)).toEqual([6, 5, 4, 3, 2].map((i) => base + i * P));
        expect(runs[0]).toEqual({
          tick: base + 6 * P,
          node: 'a',
          token: 16,
          start: base + 6 * P + 3,
          end: expect.any(Number),
          outcome: 'ok',
          attempt: 1,
          kind: 'schedule',
        });
        expect(runs[0].end).toBeLessThanOrEqual(serverTime);
        expect(totals).toMatchObject({ runs: 7, ok: 7, error: 0 });
      });

      it('counts errors, retries, aborts and cancels; keeps the error class and message', async () => {
        const { record, describe: show } = await freshJob();
        const error = { class: 'TypeError', message: 'x is "undefined"' };
        await record({ outcome: 'error', error }, { final: false });
        await record({ outcome: 'ok', attempt: 2 });
        await record({ outcome: 'aborted' });
        await record({ outcome: 'cancelled', kind: 'trigger' });
        const { runs, totals } = await show();
        expect(runs[3]).toMatchObject({ outcome: 'error', error, attempt: 1 });
        expect(runs[0]).toMatchObject({ outcome: 'cancelled', kind: 'trigger' });
        expect(totals).toMatchObject({
          runs: 3,
          retries: 1,
          ok: 1,
          error: 0, // the failed attempt was retried: the run did not fail
          aborted: 1,
          cancelled: 1,
        });
      });

      it('pauseAfterFailures: N failed runs in a row pause the job with the last error; a success resets the count', async () => {
        const { base, claim, record, describe: show } = await freshJob();
        const failure = (message: string) => ({
          outcome: 'error' as const,
          error: { class: 'Error', message },
        });
        const limits = { pauseAfterFailures: 2 };
        expect(await record(failure('one'), limits)).toMatchObject({
          failuresInRow: 1,
          paused: false,
        });
        expect(await record({ outcome: 'ok' }, limits)).toMatchObject({ failuresInRow: 0 });
        await record(failure('two'), limits);
        expect(await record(failure('three'), limits)).toMatchObject({
          failuresInRow: 2,
          paused: true,
        });
        const shown = await show();
        expect(shown).toMatchObject({ paused: true, pausedBy: 'a', failuresInRow: 2 });
        expect(shown.pauseReason).toContain('2 failures in a row');
        expect(shown.pauseReason).toContain('Error: three');
        expect((await claim(base)).status).toBe('paused');
        expect(shown.totals.error).toBe(3);
      });
    });

    it('describe of a job never seen: active, zero totals, no runs', async () => {
      const { describe: show } = await freshJob();
      expect(await show()).toEqual({
        serverTime: expect.any(Number),
        paused: false,
        pauseReason: undefined,
        pausedAt: undefined,
        pausedBy: undefined,
        failuresInRow: 0,
        totals: {
          runs: 0,
          ok: 0,
          error: 0,
          aborted: 0,
          cancelled: 0,
          retries: 0,
          triggered: 0,
          backfilled: 0,
          skipped: { paused: 0, overlap: 0 },
        },
        runs: [],
      });
    });

    it('overlap skips are counted once per tick for the cluster', async () => {
      const { base, claim, describe: show } = await freshJob({ overlap: 'skip' });
      await claim(base, 'a');
      await claim(base + P, 'b');
      await claim(base + P, 'c');
      expect((await show()).totals.skipped.overlap).toBe(1);
    });
  });
}

describe('job operations protocol', () => {
  const redisClient = againstBothClaimStores('operations-memory', operationsProtocol);

  it('Redis: history entries the library did not write are skipped', async () => {
    const store = new RedisJobClaimStore(redisClient());
    const jobKey = 'ops:job:{pool:garbage}';
    await store.recordRun({
      jobKey,
      limit: 10,
      pauseAfterFailures: 0,
      final: true,
      entry: {
        tick: 1,
        node: 'a',
        token: 1,
        start: 1,
        outcome: 'ok',
        attempt: 1,
        kind: 'schedule',
      },
    });
    await redisClient().lpush(`${jobKey}:runs`, 'garbage', '{"tick":"x"}', '[]', '{"tick":1}');
    const { runs } = await store.describe(jobKey, 10, false);
    expect(runs.map((r) => r.token)).toEqual([1]);
  });
});
