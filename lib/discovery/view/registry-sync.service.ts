// Everyone's view of the registry in this process: subscribes to change events, decodes and
// confirms them, checks the view against Redis on every reply, and resyncs what it got wrong.
import { Inject, Injectable, Logger } from '@nestjs/common';
import { errorMessage } from '../../common/error-message.js';
import type { RecordSigner } from '../../common/record-signer.js';
import { ServerClock } from '../../common/server-clock.js';
import {
  DISCOVERY_OPTIONS,
  RECORD_SIGNER,
  REGISTRY_STORE,
  TELEMETRY,
} from '../../discovery.constants.js';
import type { ResolvedDiscoveryOptions } from '../../options/discovery-options.interface.js';
import { tagValue } from '../../storage/registry-digest.js';
import type { ReapResult, RegistryStore } from '../../storage/registry-store.interface.js';
import { ConfirmationQueue } from './confirmation-queue.js';
import { confirmEvent } from './event-confirmation.js';
import { EventApplier } from './event-applier.js';
import { EventHandlers } from './event-handlers.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import { FreshReads } from './fresh-reads.js';
import type { Telemetry } from '../../common/telemetry/telemetry.js';
import type { DiscoveryEventHandler, NodeInfo } from '../node-info.interface.js';
import { decodeEvent, type WireEvent } from './node-record.codec.js';
import { RecordDecoder } from './record-decoder.js';
import { RegistryView, type ViewMark } from './registry-view.js';
import { ViewLoader } from './view-loader.js';
import { ViewResync } from './view-resync.js';

@Injectable()
export class RegistrySync {
  /** The registry as this process knows it; lookups read it directly. */
  readonly view: RegistryView;
  private readonly logger = new Logger('ServiceDiscovery');
  private readonly decoder: RecordDecoder;
  private readonly sweeper: ExpirySweeper;
  private readonly loader: ViewLoader;
  /** Lookups that read Redis instead of the view. */
  readonly fresh: FreshReads;
  private readonly handlers: EventHandlers;
  private readonly resync: ViewResync;
  private readonly applier: EventApplier;
  private started: Promise<void> | undefined;
  private readonly confirmations: ConfirmationQueue;
  private unsubscribe: (() => Promise<void>) | undefined;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    clock: ServerClock,
    @Inject(TELEMETRY) private readonly telemetry: Telemetry,
    @Inject(RECORD_SIGNER) private readonly signer: RecordSigner | undefined,
  ) {
    this.view = new RegistryView(
      options.viewScope === 'all'
        ? { all: true }
        : { all: false, pools: new Set([options.serviceName]), services: new Set() },
    );
    this.decoder = new RecordDecoder(signer, telemetry, this.logger);
    this.handlers = new EventHandlers(
      telemetry,
      this.logger,
      options.ignoreOwnEvents ? options.nodeId : undefined,
    );
    this.loader = new ViewLoader(store, clock, this.decoder, this.view);
    this.fresh = new FreshReads(store, this.loader, this.decoder);
    this.applier = new EventApplier(this.view, this.handlers);
    const { view, loader, handlers, applier, logger } = this;
    this.resync = new ViewResync({ options, view, loader, handlers, applier, telemetry, logger });
    this.sweeper = new ExpirySweeper({ options, store, clock, view, resync: this.resync });
    this.confirmations = new ConfirmationQueue({
      confirm: (event) => this.confirm(event),
      overflow: (dropped) => {
        telemetry.count('eventsDropped', dropped);
        this.resync.request();
      },
    });
  }

  /**
   * Subscribes and takes the first snapshot; resolves once the view can answer. Idempotent; after
   * a failure (Redis not up yet) the next call tries again from scratch.
   */
  start(): Promise<void> {
    this.started ??= this.begin().catch(async (error: unknown) => {
      this.started = undefined;
      await this.unsubscribe?.();
      this.unsubscribe = undefined;
      throw error;
    });
    return this.started;
  }

  private async begin(): Promise<void> {
    if (this.options.pubSubEnabled) {
      this.unsubscribe = await this.store.subscribe(
        (raw) => this.onMessage(raw),
        () => this.resync.request(),
      );
    }
    await this.resync.run(false);
    this.sweeper.plan(null, 0);
  }

  /** Shutdown begins: no more sweeps, resyncs or timers. Events still apply until `close()`. */
  halt(): void {
    this.sweeper.stop();
    this.resync.halt();
  }

  /** Ends the subscription. */
  async close(): Promise<void> {
    this.halt();
    const unsubscribe = this.unsubscribe;
    this.unsubscribe = undefined;
    await unsubscribe?.();
  }

  /** The digest fields of a partial view, asked of Redis with every beat and sweep. */
  scope(): string[] {
    return this.view.scopeFields();
  }

  /** A partial view starts keeping `serviceName` (its first lookup): resolves once filled. */
  async cover(serviceName: string): Promise<void> {
    await this.start();
    if (this.view.covers(serviceName)) return;
    this.view.widen(serviceName);
    await this.resync.now();
  }

  /** Redis time now (one round trip until the clock is synced). */
  serverNow(): Promise<number> {
    return this.loader.serverNow();
  }

  addHandler(handler: DiscoveryEventHandler): void {
    this.handlers.add(handler);
  }

  removeHandler(handler: DiscoveryEventHandler): void {
    this.handlers.remove(handler);
  }

  // --- fed by this node's membership -----------------------------------------------------------

  /** Heartbeats now reap for this process (or no longer do). */
  set beating(beating: boolean) {
    this.sweeper.beating = beating;
  }

  /** This node wrote its record (`tag`) at `version`: it sees its own writes at once. */
  ownRecord(node: NodeInfo, version: number, tag: string): void {
    this.view.upsert(node, version, tagValue(tag));
  }

  /** Where the view stands before a request leaves; pass it back to `observe` with the reply. */
  mark(): ViewMark {
    return this.view.mark();
  }

  /** This node deregistered. */
  removeOwn(nodeId: string): void {
    this.view.remove(nodeId, Infinity);
  }

  /** A reply of a heartbeat or a sweep: checks the view against it and plans the next sweep. */
  observe(reply: ReapResult, sent: ViewMark): void {
    this.resync.check(reply, sent);
    this.sweeper.plan(reply.nextDeadline);
  }

  // --- events -----------------------------------------------------------------------------------

  private onMessage(raw: string): void {
    const event = decodeEvent(raw, this.signer);
    if (typeof event === 'string')
      return this.decoder.reject(event, 'message on the events channel');
    this.telemetry.count('eventsReceived');
    if (this.signer) {
      // Events are built by Redis scripts, which cannot sign: with a signing key an event is only
      // a hint, and what counts is the signed record Redis holds for that node.
      return this.confirmations.push(event);
    }
    if (this.resync.running) this.resync.hold(event);
    else this.applyEvent(event);
  }

  private async confirm(event: WireEvent): Promise<void> {
    let confirmed;
    try {
      confirmed = await confirmEvent(this.store, this.signer!, event);
    } catch (error) {
      this.logger.warn(`Could not confirm an event, resyncing: ${errorMessage(error)}`);
      return this.resync.request();
    }
    if (!confirmed) {
      // Forged, or overtaken by a later change whose own event follows: skip either way.
      this.telemetry.count('unverified');
      return;
    }
    if (this.resync.running) this.resync.hold(event);
    else this.applyEvent(event);
  }

  private applyEvent(event: WireEvent): void {
    if (this.applier.apply(event) === 'resync') this.resync.request();
  }
}
