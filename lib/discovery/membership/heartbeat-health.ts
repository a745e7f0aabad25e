// How this node's heartbeats are doing: when one last succeeded, how many failed in a row and
// since when; what readiness probes and `leaseStatus()` report.
import { ServerClock } from '../../common/server-clock.js';

/** What the health indicator and the job runner need to know about this node's lease. */
export interface LeaseStatus {
  registered: boolean;
  /** The lease has not run out (see `NodeLease`). */
  valid: boolean;
  /** ms since the last successful heartbeat; undefined before the first. */
  lastHeartbeatAge: number | undefined;
  consecutiveFailures: number;
  /** A heartbeat is overdue: sent but unanswered (a stalled server), or not sent at all. */
  stalled: boolean;
  /** ms since heartbeats stopped succeeding on time; 0 while they do. */
  failingFor: number;
}

export class HeartbeatHealth {
  /** Monotonic ms of the last successful heartbeat's reply. */
  lastBeatAt: number | undefined;
  consecutiveFailures = 0;
  private failingSince = 0;

  constructor(private readonly interval: number) {}

  /** A heartbeat sent at `sentAt` failed. */
  failed(sentAt: number): void {
    if (this.consecutiveFailures++ === 0) this.failingSince = sentAt;
  }

  /** A heartbeat's reply came at `receivedAt`. */
  succeeded(receivedAt: number): void {
    this.consecutiveFailures = 0;
    this.lastBeatAt = receivedAt;
  }

  status(registered: boolean, leaseValid: boolean): LeaseStatus {
    const now = ServerClock.local();
    const age = this.lastBeatAt === undefined ? undefined : now - this.lastBeatAt;
    // A stalled Redis fails no command: a beat that is two intervals late counts as failing.
    const lateBy = age === undefined ? 0 : age - 2 * this.interval;
    const failingFor = Math.max(
      this.consecutiveFailures === 0 ? 0 : now - this.failingSince,
      lateBy > 0 ? age! - this.interval : 0,
    );
    return {
      registered,
      valid: registered && leaseValid,
      lastHeartbeatAge: age === undefined ? undefined : Math.round(age),
      consecutiveFailures: this.consecutiveFailures,
      stalled: lateBy > 0,
      failingFor: Math.round(failingFor),
    };
  }
}
