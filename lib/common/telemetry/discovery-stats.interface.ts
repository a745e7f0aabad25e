// What `ServiceDiscovery.stats` reports (and the metrics observe): counters of what the service
// did, skipped or recovered from (they only grow, through `Telemetry.count()`), and the clock offset.

/** Counters of what the service skipped or recovered from; they only grow. */
export interface DiscoveryStats {
  heartbeats: number;
  heartbeatFailures: number;
  reRegistrations: number;
  /** Times the view was replaced by a snapshot (missed events, rollbacks, divergences). */
  resyncs: number;
  /**
   * Times Redis answered with a lower version than the view had already applied: Redis lost
   * writes (a failover, a restore), or an event claimed a version Redis never reached.
   */
  rollbacks: number;
  /** Times the view's digest differed from Redis's at the same version (a forged or lost event). */
  divergences: number;
  /** Change events received on the channel (well-formed; applied, confirmed or not). */
  eventsReceived: number;
  malformedEvents: number;
  malformedRecords: number;
  /** Records, events and job claims that failed signature verification (with `signingKey`). */
  unverified: number;
  /**
   * Resyncs asked for within one `heartbeatInterval` of the last one, folded into one that waits
   * for the interval to pass (at most one resync per interval: a flood of events costs no more).
   */
  resyncsDeferred: number;
  /**
   * Events dropped unapplied because too many waited: for their confirmation read (with
   * `signingKey`), or for a resync to end. One resync reads what they said instead.
   */
  eventsDropped: number;
  handlerErrors: number;
  /** Steps of Redis server time followed at once (see ServerClock): NTP, VM resume, failover. */
  clockSteps: number;
  /**
   * ms this node's wall clock (`Date.now()`, which fires `@Cron`) is ahead of Redis time
   * (negative: behind), as of the last heartbeat; undefined before the first. Not a counter.
   */
  clockOffset: number | undefined;
}

/** The counters of `DiscoveryStats` (every field but the clock offset). */
export type DiscoveryCounter = Exclude<keyof DiscoveryStats, 'clockOffset'>;
