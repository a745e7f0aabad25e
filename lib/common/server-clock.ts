// This process's estimate of Redis server time, shared by everything that keeps deadlines (lease,
// expiry sweeps, job ticks) so that none of them reads `Date.now()`; it follows steps of Redis TIME.
import { performance } from 'node:perf_hooks';

/** A reply's TIME may sit this far (ms) outside its round trip before it counts as a step. */
const STEP_MARGIN_MS = 5;

/**
 * An estimate of Redis server time on this process's monotonic clock. Every script reply carries
 * the server's `TIME`; the offset from the reply with the shortest round trip in the last minute
 * wins. Deadlines and tick times come from here, never from `Date.now()`, so a wrong or changed
 * wall clock on a node cannot move them.
 *
 * Redis's own clock can step (an NTP step on its host, a VM resumed, a failover to a replica whose
 * clock differs; this host suspended, so that the monotonic clock stood still): a reply whose TIME
 * lies outside the interval the estimate allows for it (`sentAt`..`receivedAt` on the estimate,
 * give or take `STEP_MARGIN_MS`) replaces the offset at once, and `onStep` is told by how much.
 */
export class ServerClock {
  private offset: number | undefined;
  private bestRoundTrip = Infinity;
  private bestAt = 0;
  /**
   * The least `serverTime - sentAt` of the recent replies: Redis read its TIME after the request
   * left, so Redis time is at most local time + this, however the round trips split (a link fast
   * one way and slow the other leaves the midpoint estimate off by half the difference).
   */
  private upper = Infinity;
  private upperAt = 0;

  constructor(private readonly onStep: (stepMs: number) => void = () => undefined) {}

  /** Local monotonic time, ms. */
  static local(): number {
    return performance.now();
  }

  /** Records a reply: `serverTime` read by Redis between `sentAt` and `receivedAt` (local ms). */
  observe(serverTime: number, sentAt: number, receivedAt: number): void {
    if (!Number.isFinite(serverTime)) return;
    const roundTrip = receivedAt - sentAt;
    const estimate = serverTime - (sentAt + receivedAt) / 2;
    if (this.offset !== undefined) {
      // The offset itself is known to half the round trip it came from (a slow first reply, with
      // the scripts still loading, is off by up to that much): no step inside that.
      const margin = STEP_MARGIN_MS + this.bestRoundTrip / 2;
      const early = sentAt + this.offset - margin - serverTime;
      const late = serverTime - (receivedAt + this.offset + margin);
      if (early > 0 || late > 0) {
        const step = estimate - this.offset;
        this.set(estimate, roundTrip, receivedAt);
        this.upper = Infinity;
        this.bound(serverTime - sentAt, receivedAt);
        this.onStep(step);
        return;
      }
    }
    const stale = receivedAt - this.bestAt > 60_000;
    if (this.offset === undefined || stale || roundTrip <= this.bestRoundTrip) {
      this.set(estimate, roundTrip, receivedAt);
    }
    this.bound(serverTime - sentAt, receivedAt);
  }

  /**
   * The latest Redis time it can be now (ms): what a starting deadline is judged against, so that
   * nothing starts after its deadline on a link slow in one direction.
   */
  latest(): number {
    const now = ServerClock.local();
    return (
      now + (Number.isFinite(this.upper) ? this.upper : (this.offset ?? performance.timeOrigin))
    );
  }

  get synced(): boolean {
    return this.offset !== undefined;
  }

  /** Estimated server time now, ms. */
  now(): number {
    return ServerClock.local() + Math.min(this.offset ?? performance.timeOrigin, this.upper);
  }

  /** Local monotonic time at which the server clock reads `serverTime`. */
  toLocal(serverTime: number): number {
    return serverTime - Math.min(this.offset ?? performance.timeOrigin, this.upper);
  }

  private bound(upper: number, at: number): void {
    if (upper <= this.upper || at - this.upperAt > 60_000) {
      this.upper = upper;
      this.upperAt = at;
    }
  }

  private set(offset: number, roundTrip: number, at: number): void {
    this.offset = offset;
    this.bestRoundTrip = roundTrip;
    this.bestAt = at;
  }
}
