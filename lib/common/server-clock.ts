// This process's estimate of Redis server time, shared by everything that keeps deadlines (lease,
// expiry sweeps, job ticks) so that none of them reads `Date.now()`.
import { performance } from 'node:perf_hooks';

/**
 * An estimate of Redis server time on this process's monotonic clock. Every script reply carries
 * the server's `TIME`; the offset from the reply with the shortest round trip in the last minute
 * wins. Deadlines and tick times come from here, never from `Date.now()`, so a wrong or changed
 * wall clock on a node cannot move them.
 */
export class ServerClock {
  private offset: number | undefined;
  private bestRoundTrip = Infinity;
  private bestAt = 0;

  /** Local monotonic time, ms. */
  static local(): number {
    return performance.now();
  }

  /** Records a reply: `serverTime` read by Redis between `sentAt` and `receivedAt` (local ms). */
  observe(serverTime: number, sentAt: number, receivedAt: number): void {
    const roundTrip = receivedAt - sentAt;
    const stale = receivedAt - this.bestAt > 60_000;
    if (this.offset === undefined || stale || roundTrip <= this.bestRoundTrip) {
      this.offset = serverTime - (sentAt + receivedAt) / 2;
      this.bestRoundTrip = roundTrip;
      this.bestAt = receivedAt;
    }
  }

  get synced(): boolean {
    return this.offset !== undefined;
  }

  /** Estimated server time now, ms. */
  now(): number {
    return ServerClock.local() + (this.offset ?? performance.timeOrigin);
  }

  /** Local monotonic time at which the server clock reads `serverTime`. */
  toLocal(serverTime: number): number {
    return serverTime - (this.offset ?? performance.timeOrigin);
  }
}
