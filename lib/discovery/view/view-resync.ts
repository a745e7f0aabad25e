// Anti-entropy: checks the view against every reply of Redis (no extra round trip) and replaces
// it from a snapshot when it went wrong, replaying the differences as `resynced` events. Resyncs
// asked for start at most once per heartbeat interval, so hostile events cost bounded snapshots.
import type { Logger } from '@nestjs/common';
import { errorMessage } from '../../common/error-message.js';
import { ServerClock } from '../../common/server-clock.js';
import type { ResolvedDiscoveryOptions } from '../../options/discovery-options.interface.js';
import type { ReapResult } from '../../storage/registry-store.interface.js';
import type { EventApplier } from './event-applier.js';
import { resyncedEvent, type EventHandlers } from './event-handlers.js';
import type { Telemetry } from '../../common/telemetry/telemetry.js';
import type { WireEvent } from './node-record.codec.js';
import type { RegistryView, ViewMark } from './registry-view.js';
import { checkView } from './view-check.js';
import type { ViewLoader } from './view-loader.js';

/** How long an event-less version mismatch may last before it counts as a missed event. */
const MISSED_EVENT_GRACE_MS = 150;
/** Most events held while a resync reads Redis; past it they are dropped and it reads again. */
export const HELD_EVENTS_LIMIT = 1024;

export interface ViewResyncDeps {
  options: Pick<ResolvedDiscoveryOptions, 'pubSubEnabled' | 'retry' | 'heartbeatInterval'>;
  view: RegistryView;
  loader: ViewLoader;
  handlers: EventHandlers;
  /** Applies the events held during a resync on top of its snapshot. */
  applier: EventApplier;
  telemetry: Telemetry;
  logger: Logger;
}

export class ViewResync {
  /** A resync is reading Redis: events wait in `held` until it is over. */
  running = false;
  private wanted = false;
  private current: Promise<void> | undefined;
  private held: WireEvent[] = [];
  /** Held events were dropped (too many): the snapshot read must be taken again. */
  private heldDropped = false;
  /** When (monotonic ms) the last snapshot read began, and a resync waiting for its turn. */
  private lastStarted = -Infinity;
  private deferred: NodeJS.Timeout | undefined;
  private stopped = false;
  private missedCheck: NodeJS.Timeout | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  private readonly options: ViewResyncDeps['options'];
  private readonly view: RegistryView;
  private readonly loader: ViewLoader;
  private readonly handlers: EventHandlers;
  private readonly applier: EventApplier;
  private readonly telemetry: Telemetry;
  private readonly logger: Logger;

  constructor(deps: ViewResyncDeps) {
    ({
      options: this.options,
      view: this.view,
      loader: this.loader,
      handlers: this.handlers,
      applier: this.applier,
      telemetry: this.telemetry,
      logger: this.logger,
    } = deps);
  }

  /** Keeps an event that came while a resync reads Redis, to apply on top of its snapshot. */
  hold(event: WireEvent): void {
    if (this.held.length >= HELD_EVENTS_LIMIT) {
      this.telemetry.count('eventsDropped', this.held.length + 1);
      this.held = [];
      this.heldDropped = true;
      return;
    }
    this.held.push(event);
  }

  /** No more resyncs or timers (shutdown). */
  halt(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  /**
   * Checks the view against a reply of Redis, once per heartbeat, and repairs it by a resync (see
   * `checkView`): whatever was forged, lost or rolled back, a view never disagrees with Redis for
   * longer than one interval.
   */
  check(reply: ReapResult, sent: ViewMark): void {
    if (this.stopped || this.running) return;
    const verdict = checkView(this.view, reply, sent);
    if (verdict === 'rollback') {
      this.telemetry.count('rollbacks');
      this.logger.warn(
        `The registry's version went back from ${sent.version} to ${reply.version} (Redis lost writes); resyncing`,
      );
      this.request();
    } else if (verdict === 'diverged') {
      this.telemetry.count('divergences');
      this.request();
    } else if (verdict === 'behind' && !this.missedCheck) {
      if (!this.options.pubSubEnabled) return this.request();
      // Events may be on their way: a resync only if they do not come.
      const stillBehind = () =>
        reply.epoch !== this.view.epoch || reply.version > this.view.version;
      this.missedCheck = this.timer(MISSED_EVENT_GRACE_MS, () => {
        this.missedCheck = undefined;
        if (stillBehind()) this.request();
      });
    }
  }

  /**
   * A resync, in the background; a failed one is retried after `retry.initialDelay`. At most one
   * starts per `heartbeatInterval`: one asked for sooner waits for its turn, and every other asked
   * for meanwhile is folded into it (counted in `resyncsDeferred`).
   */
  request(): void {
    if (this.stopped) return;
    const wait = this.lastStarted + this.options.heartbeatInterval - ServerClock.local();
    if (this.deferred || wait > 0) {
      this.telemetry.count('resyncsDeferred');
      this.deferred ??= this.timer(Math.max(0, wait), () => {
        this.deferred = undefined;
        this.request();
      });
      return;
    }
    this.now().catch((error) => {
      this.logger.warn(`Resync failed, retrying: ${errorMessage(error)}`);
      this.timer(this.options.retry.initialDelay, () => this.request());
    });
  }

  /** Resyncs now (or once the running resync is over, again). */
  now(): Promise<void> {
    if (this.running) {
      this.wanted = true;
      return this.current!;
    }
    return this.run(true);
  }

  /** Replaces the view with what Redis holds; with `announce`, emits what changed as events. */
  run(announce: boolean): Promise<void> {
    this.running = true;
    let again = false;
    this.current = (async () => {
      try {
        do {
          this.wanted = false;
          this.heldDropped = false;
          this.lastStarted = ServerClock.local();
          const loaded = await this.loader.load(!this.options.pubSubEnabled);
          const changes = this.view.replace(loaded.epoch, loaded.version, loaded.nodes);
          if (announce) {
            this.telemetry.count('resyncs');
            for (const change of changes) {
              this.handlers.emit(resyncedEvent(change, loaded.serverTime));
            }
          }
          // Events of changes made while the pages were read: applied in order, on top.
          const pending = this.held.sort((a, b) => a.version - b.version);
          this.held = [];
          for (const event of pending) {
            if (this.applier.apply(event) === 'resync') again = true;
          }
          if (this.heldDropped) again = true;
        } while (this.wanted && !this.stopped);
      } finally {
        this.running = false;
      }
      // What the events said that the snapshot did not have: another one, in its turn.
      if (again) this.request();
    })();
    return this.current;
  }

  private timer(delay: number, callback: () => void): NodeJS.Timeout {
    const handle = setTimeout(() => {
      this.timers.delete(handle);
      callback();
    }, delay);
    this.timers.add(handle);
    return handle;
  }
}
