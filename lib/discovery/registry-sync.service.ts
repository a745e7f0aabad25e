// Everyone's view of the registry in this process: subscribes to change events, decodes and
// confirms them, checks the view against Redis on every reply, and resyncs what it got wrong.
import { Inject, Injectable, Logger } from '@nestjs/common';
import type { RecordSigner } from '../common/record-signer.js';
import { ServerClock } from '../common/server-clock.js';
import {
  DISCOVERY_OPTIONS,
  DISCOVERY_STATS,
  RECORD_SIGNER,
  REGISTRY_STORE,
} from '../discovery.constants.js';
import type { ResolvedDiscoveryOptions } from '../options/discovery-options.interface.js';
import { recordTag, tagValue } from '../storage/registry-digest.js';
import type { ReapResult, RegistryStore } from '../storage/registry-store.interface.js';
import { EventHandlers, resyncedEvent } from './event-handlers.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import type { DiscoveryEventHandler, DiscoveryStats, NodeInfo } from './node-info.interface.js';
import { decodeEvent, decodeRecord, encodeRecord, type WireEvent } from './node-record.codec.js';
import { RecordDecoder } from './record-decoder.js';
import { RegistryView, type ViewMark } from './registry-view.js';
import { checkView } from './view-check.js';
import { ViewLoader } from './view-loader.js';
import { errorMessage } from '../common/error-message.js';

/** How long an event-less version mismatch may last before it counts as a missed event. */
const MISSED_EVENT_GRACE_MS = 150;

@Injectable()
export class RegistrySync {
  /** The registry as this process knows it; lookups read it directly. */
  readonly view: RegistryView;
  private readonly logger = new Logger('ServiceDiscovery');
  private readonly decoder: RecordDecoder;
  private readonly sweeper: ExpirySweeper;
  private readonly loader: ViewLoader;
  private readonly handlers: EventHandlers;
  private readonly timers = new Set<NodeJS.Timeout>();
  private started: Promise<void> | undefined;
  private stopping = false;
  private syncing = false;
  private resyncWanted = false;
  private resyncing: Promise<void> | undefined;
  private buffered: WireEvent[] = [];
  private confirmations: Promise<void> = Promise.resolve();
  private unsubscribe: (() => Promise<void>) | undefined;
  private missedCheck: NodeJS.Timeout | undefined;

  constructor(
    @Inject(DISCOVERY_OPTIONS) private readonly options: ResolvedDiscoveryOptions,
    @Inject(REGISTRY_STORE) private readonly store: RegistryStore,
    private readonly clock: ServerClock,
    @Inject(DISCOVERY_STATS) private readonly stats: DiscoveryStats,
    @Inject(RECORD_SIGNER) private readonly signer: RecordSigner | undefined,
  ) {
    this.view = new RegistryView(
      options.viewScope === 'all'
        ? { all: true }
        : { all: false, pools: new Set([options.serviceName]), services: new Set() },
    );
    this.decoder = new RecordDecoder(signer, stats, this.logger);
    this.handlers = new EventHandlers(
      stats,
      this.logger,
      options.ignoreOwnEvents ? options.nodeId : undefined,
    );
    this.loader = new ViewLoader(store, clock, this.decoder, this.view);
    this.sweeper = new ExpirySweeper(
      options,
      store,
      clock,
      () => this.view.mark(),
      () => this.scope(),
      (reply, sent) => this.observe(reply, sent),
    );
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
        () => this.requestResync(),
      );
    }
    await this.resync(false);
    this.sweeper.plan(null, 0);
  }

  /** Shutdown begins: no more sweeps, resyncs or timers. Events still apply until `close()`. */
  halt(): void {
    this.stopping = true;
    this.sweeper.stop();
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
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
    return this.view.scope.all ? [] : this.view.digests.fields;
  }

  /** A partial view starts keeping `serviceName` (its first lookup): resolves once filled. */
  async cover(serviceName: string): Promise<void> {
    await this.start();
    if (this.view.covers(serviceName)) return;
    this.view.widen(serviceName);
    await this.resyncNow();
  }

  /** Every live node, read from Redis now (page by page). */
  async freshNodes(): Promise<NodeInfo[]> {
    const nodes: NodeInfo[] = [];
    await this.loader.pages((records) => nodes.push(...this.decoder.decodeAll(records, false)));
    return nodes;
  }

  /** The live nodes offering `serviceName`, read from Redis now (cost: that service's nodes). */
  async freshService(serviceName: string): Promise<NodeInfo[]> {
    const { records, deadlines } = await this.store.fetchService(serviceName);
    if (!this.clock.synced) await this.loader.syncClock();
    const now = this.clock.now();
    return this.decoder.decodeAll(records.filter((_, i) => deadlines[i] > now));
  }

  /** The record of `nodeId` if it is alive, read from Redis now. */
  async freshNode(nodeId: string): Promise<NodeInfo | undefined> {
    const record = await this.store.fetchNode(nodeId);
    return record === undefined ? undefined : this.decoder.decode(record);
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
    this.check(reply, sent);
    this.sweeper.plan(reply.nextDeadline);
  }

  // --- events -----------------------------------------------------------------------------------

  private onMessage(raw: string): void {
    const event = decodeEvent(raw, this.signer);
    if (typeof event === 'string')
      return this.decoder.reject(event, 'message on the events channel');
    if (this.signer) {
      // Events are built by Redis scripts, which cannot sign: with a signing key an event is only
      // a hint, and what counts is the signed record Redis holds for that node.
      this.confirmations = this.confirmations.then(() => this.confirm(event));
      return;
    }
    if (this.syncing) this.buffered.push(event);
    else this.applyEvent(event);
  }

  private async confirm(event: WireEvent): Promise<void> {
    let current;
    try {
      const record = await this.store.fetchNode(event.node.nodeId);
      current = record === undefined ? undefined : decodeRecord(record, this.signer);
    } catch (error) {
      this.logger.warn(`Could not confirm an event, resyncing: ${errorMessage(error)}`);
      return this.requestResync();
    }
    const alive = current !== undefined && typeof current !== 'string';
    const confirmed =
      event.type === 'NODE_DEREGISTERED'
        ? !alive
        : alive && encodeRecord(current as NodeInfo) === encodeRecord(event.node);
    if (!confirmed) {
      // Forged, or overtaken by a later change whose own event follows: skip either way.
      this.stats.unverified += 1;
      return;
    }
    if (this.syncing) this.buffered.push(event);
    else this.applyEvent(event);
  }

  private applyEvent(event: WireEvent): void {
    if (event.epoch !== this.view.epoch) {
      // The registry's first write, seen by a view loaded from an empty Redis: nothing to reload
      // (an empty registry at version 0 is the same in every epoch).
      const first = this.view.epoch === '' && this.view.version === 0 && event.version === 1;
      if (!first) return this.requestResync();
      this.view.epoch = event.epoch;
    }
    if (event.version <= this.view.version) return; // already in the view
    if (event.version > this.view.version + 1) return this.requestResync();
    const { node } = event;
    if (event.type === 'NODE_DEREGISTERED') {
      // Even about this node: its lease is judged by its own heartbeats, never by an event.
      this.view.remove(node.nodeId, event.version);
    } else {
      this.view.upsert(node, event.version, tagValue(recordTag(event.record)));
    }
    this.view.advance(event.version);
    this.handlers.emit({
      ...node,
      type: event.type,
      timestamp: event.timestamp,
      ...(event.reason ? { reason: event.reason } : {}),
    });
  }

  // --- anti-entropy and resyncs ---------------------------------------------------------------

  /**
   * Checks the view against a reply of Redis, once per heartbeat at no extra round trip, and
   * repairs it by a resync (see `checkView`): whatever was forged, lost or rolled back, a view
   * never disagrees with Redis for longer than one interval.
   */
  private check(reply: ReapResult, sent: ViewMark): void {
    if (this.stopping || this.syncing) return;
    const verdict = checkView(this.view, reply, sent);
    if (verdict === 'rollback') {
      this.stats.rollbacks += 1;
      this.logger.warn(
        `The registry's version went back from ${sent.version} to ${reply.version} (Redis lost writes); resyncing`,
      );
      this.requestResync();
    } else if (verdict === 'diverged') {
      this.stats.divergences += 1;
      this.requestResync();
    } else if (verdict === 'behind' && !this.missedCheck) {
      if (!this.options.pubSubEnabled) return this.requestResync();
      const stillBehind = () =>
        reply.epoch !== this.view.epoch || reply.version > this.view.version;
      this.missedCheck = this.timer(MISSED_EVENT_GRACE_MS, () => {
        this.missedCheck = undefined;
        if (stillBehind()) this.requestResync();
      });
    }
  }

  private requestResync(): void {
    if (this.stopping) return;
    this.resyncNow().catch((error) => {
      this.logger.warn(`Resync failed, retrying: ${errorMessage(error)}`);
      this.timer(this.options.retry.initialDelay, () => this.requestResync());
    });
  }

  /** Resyncs now (or once the running resync is over, again). */
  private resyncNow(): Promise<void> {
    if (this.syncing) {
      this.resyncWanted = true;
      return this.resyncing!;
    }
    return this.resync(true);
  }

  /** Replaces the view with what Redis holds; with `announce`, emits what changed as events. */
  private resync(announce: boolean): Promise<void> {
    this.syncing = true;
    this.resyncing = (async () => {
      try {
        do {
          this.resyncWanted = false;
          const loaded = await this.loader.load(!this.options.pubSubEnabled);
          const changes = this.view.replace(loaded.epoch, loaded.version, loaded.nodes);
          if (announce) {
            this.stats.resyncs += 1;
            for (const change of changes) {
              this.handlers.emit(resyncedEvent(change, loaded.serverTime));
            }
          }
          // Events of changes made while the pages were read: applied in order, on top.
          const pending = this.buffered.sort((a, b) => a.version - b.version);
          this.buffered = [];
          for (const event of pending) this.applyEvent(event);
        } while (this.resyncWanted && !this.stopping);
      } finally {
        this.syncing = false;
      }
    })();
    return this.resyncing;
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
