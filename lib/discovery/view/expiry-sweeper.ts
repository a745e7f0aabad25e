// When this process asks Redis to remove expired peers: a beating node only for a deadline due
// before its next heartbeat (which reaps anyway), a client at least once per heartbeatInterval.
import { Logger } from '@nestjs/common';
import { ServerClock } from '../../common/server-clock.js';
import type { ResolvedDiscoveryOptions } from '../../options/discovery-options.interface.js';
import type { RegistryStore } from '../../storage/registry-store.interface.js';
import type { RegistryView } from './registry-view.js';
import type { ViewResync } from './view-resync.js';
import { errorMessage } from '../../common/error-message.js';

/**
 * Every heartbeat reaps expired peers and tells the earliest deadline left, so in a healthy
 * cluster no extra call is made. The scripts are atomic: however many peers reap at once, each
 * expiry is removed and announced exactly once.
 */
export interface ExpirySweeperDeps {
  options: ResolvedDiscoveryOptions;
  store: RegistryStore;
  clock: ServerClock;
  /** The view a sweep asks digests for and whose mark it sends. */
  view: RegistryView;
  /** Checks the view against every reply of a sweep. */
  resync: ViewResync;
}

export class ExpirySweeper {
  private readonly logger = new Logger('ServiceDiscovery');
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Whether heartbeats reap for this process (a registered node, not a client). */
  beating = false;
  /** This node's deadline as its last heartbeat reply said (Redis time). */
  ownDeadline: number | undefined;

  private readonly options: ResolvedDiscoveryOptions;
  private readonly store: RegistryStore;
  private readonly clock: ServerClock;
  private readonly view: RegistryView;
  private readonly resync: ViewResync;

  constructor(deps: ExpirySweeperDeps) {
    ({
      options: this.options,
      store: this.store,
      clock: this.clock,
      view: this.view,
      resync: this.resync,
    } = deps);
  }

  /** Plans the next sweep from a reply's earliest deadline (`null`: none), or after `delay` ms. */
  plan(nextDeadline: number | null, delay?: number): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    let due = delay ?? (this.beating ? Infinity : this.options.heartbeatInterval);
    if (nextDeadline !== null) {
      // A few ms late on purpose, with jitter, so peers do not all fire at the same instant.
      const untilDeadline = this.clock.toLocal(nextDeadline) - ServerClock.local();
      due = Math.min(due, Math.max(1, untilDeadline + 2 + Math.random() * 8));
    }
    if (this.beating && due > this.options.heartbeatInterval) return; // the next heartbeat reaps
    this.timer = setTimeout(() => void this.sweep(), due);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private async sweep(): Promise<void> {
    this.timer = undefined;
    try {
      const sent = this.view.mark();
      const sentAt = ServerClock.local();
      // A node reaps as itself: if it was expired too (Redis stood still), it removes nobody.
      const own = this.beating ? this.ownDeadline : undefined;
      const result = await this.store.reap(this.view.scopeFields(), own);
      this.clock.observe(result.serverTime, sentAt, ServerClock.local());
      this.resync.check(result, sent);
      this.plan(result.nextDeadline);
    } catch (error) {
      this.logger.warn(`Expiry sweep failed: ${errorMessage(error)}`);
      this.plan(null, this.options.retry.initialDelay);
    }
  }
}
