// Everyone's view of the registry in this process: subscribes to change events, decodes and
// confirms them, notices what it missed and resyncs, and delivers changes to handlers.
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
import { recordTag } from '../storage/registry-digest.js';
import type {
  ReapResult,
  RegistryStore,
  RegistryVersion,
} from '../storage/registry-store.interface.js';
import { ExpirySweeper } from './expiry-sweeper.js';
import type {
  DiscoveryEvent,
  DiscoveryEventHandler,
  DiscoveryStats,
  NodeInfo,
} from './node-info.interface.js';
import { decodeEvent, decodeRecord, encodeRecord, type WireEvent } from './node-record.codec.js';
import { RecordDecoder } from './record-decoder.js';
import { RegistryView, type ViewChange, type ViewMark } from './registry-view.js';

/** How long an event-less version mismatch may last before it counts as a missed event. */
const MISSED_EVENT_GRACE_MS = 150;

@Injectable()
export class RegistrySync {
  /** The registry as this process knows it; lookups read it directly. */
  readonly view = new RegistryView();
  private readonly logger = new Logger('ServiceDiscovery');
  private readonly decoder: RecordDecoder;
  private readonly sweeper: ExpirySweeper;
  private readonly handlers = new Set<DiscoveryEventHandler>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private started: Promise<void> | undefined;
  private stopping = false;
  private syncing = false;
  private resyncWanted = false;
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
    this.decoder = new RecordDecoder(signer, stats, this.logger);
    this.sweeper = new ExpirySweeper(
      options,
      store,
      clock,
      () => this.view.mark(),
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

  /** Every live node, read from Redis now. */
  async freshNodes(): Promise<NodeInfo[]> {
    return this.decoder.decodeAll((await this.store.snapshot()).records);
  }

  /** The live nodes offering `serviceName`, read from Redis now (cost: that service's nodes). */
  async freshService(serviceName: string): Promise<NodeInfo[]> {
    return this.decoder.decodeAll((await this.store.fetchService(serviceName)).records);
  }

  addHandler(handler: DiscoveryEventHandler): void {
    this.handlers.add(handler);
  }

  removeHandler(handler: DiscoveryEventHandler): void {
    this.handlers.delete(handler);
  }

  // --- fed by this node's membership -----------------------------------------------------------

  /** Heartbeats now reap for this process (or no longer do). */
  set beating(beating: boolean) {
    this.sweeper.beating = beating;
  }

  /** This node wrote its record (`tag`) at `version`: it sees its own writes at once. */
  ownRecord(node: NodeInfo, version: number, tag: string): void {
    this.view.upsert(node, encodeRecord(node), version, tag);
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
      this.logger.warn(`Could not confirm an event, resyncing: ${message(error)}`);
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
    if (event.epoch !== this.view.epoch) return this.requestResync();
    if (event.version <= this.view.version) return; // already in the view
    if (event.version > this.view.version + 1) return this.requestResync();
    const { node } = event;
    if (event.type === 'NODE_DEREGISTERED') {
      // Even about this node: its lease is judged by its own heartbeats, never by an event.
      this.view.remove(node.nodeId, event.version);
    } else {
      this.view.upsert(node, encodeRecord(node), event.version, recordTag(event.record));
    }
    this.view.advance(event.version);
    this.emit({
      ...node,
      type: event.type,
      timestamp: event.timestamp,
      ...(event.reason ? { reason: event.reason } : {}),
    });
  }

  // --- anti-entropy and resyncs ---------------------------------------------------------------

  /**
   * Checks the view against a reply of Redis, once per heartbeat at no extra round trip. Events
   * are hints: whatever was forged, lost or rolled back, a difference is found here and a resync
   * repairs it.
   * - Redis below what the view had applied before the request left: Redis lost writes (or an
   *   event claimed a version it never reached).
   * - Redis ahead: events are on their way; if they do not come soon, some were missed.
   * - Same version, other digest: the view holds something Redis does not (a forged or lost event).
   */
  private check(reply: RegistryVersion, sent: ViewMark): void {
    if (this.stopping || this.syncing) return;
    const view = this.view;
    if (reply.epoch === sent.epoch && reply.version < sent.version) {
      this.stats.rollbacks += 1;
      this.logger.warn(
        `The registry's version went back from ${sent.version} to ${reply.version} (Redis lost writes); resyncing`,
      );
      return this.requestResync();
    }
    const behind = () => reply.epoch !== view.epoch || reply.version > view.version;
    if (behind()) {
      if (this.missedCheck) return;
      if (!this.options.pubSubEnabled) return this.requestResync();
      this.missedCheck = this.timer(MISSED_EVENT_GRACE_MS, () => {
        this.missedCheck = undefined;
        if (behind()) this.requestResync();
      });
      return;
    }
    const expected = view.digestAt(reply.version);
    if (expected !== undefined && expected !== reply.digest) {
      this.stats.divergences += 1;
      this.requestResync();
    }
  }

  private requestResync(): void {
    if (this.stopping) return;
    if (this.syncing) {
      this.resyncWanted = true;
      return;
    }
    this.resync(true).catch((error) => {
      this.logger.warn(`Resync failed, retrying: ${message(error)}`);
      this.timer(this.options.retry.initialDelay, () => this.requestResync());
    });
  }

  /** Replaces the view with a snapshot; with `announce`, emits what changed as resynced events. */
  private async resync(announce: boolean): Promise<void> {
    this.syncing = true;
    try {
      do {
        this.resyncWanted = false;
        const sentAt = ServerClock.local();
        const snapshot = await this.store.snapshot();
        this.clock.observe(snapshot.serverTime, sentAt, ServerClock.local());
        const nodes = snapshot.records.flatMap((record, i) => {
          const node = this.decoder.decode(record);
          return node ? [{ node, raw: encodeRecord(node), tag: snapshot.tags[i] }] : [];
        });
        const changes = this.view.replace(snapshot.epoch, snapshot.version, nodes);
        if (announce) {
          this.stats.resyncs += 1;
          for (const change of changes) this.emit(resyncedEvent(change, snapshot.serverTime));
        }
        const pending = this.buffered.sort((a, b) => a.version - b.version);
        this.buffered = [];
        for (const event of pending) this.applyEvent(event);
      } while (this.resyncWanted && !this.stopping);
    } finally {
      this.syncing = false;
    }
  }

  // --- helpers ---------------------------------------------------------------------------------

  private emit(event: DiscoveryEvent): void {
    if (this.options.ignoreOwnEvents && event.nodeId === this.options.nodeId) return;
    for (const handler of this.handlers) {
      try {
        const result = handler(event);
        if (result && typeof (result as Promise<void>).catch === 'function') {
          (result as Promise<void>).catch((error) => this.handlerFailed(error));
        }
      } catch (error) {
        this.handlerFailed(error);
      }
    }
  }

  private handlerFailed(error: unknown): void {
    this.stats.handlerErrors += 1;
    this.logger.error(`Event handler failed: ${message(error)}`);
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

function resyncedEvent(change: ViewChange, timestamp: number): DiscoveryEvent {
  const type =
    change.type === 'added'
      ? 'NODE_REGISTERED'
      : change.type === 'changed'
        ? 'NODE_UPDATED'
        : 'NODE_DEREGISTERED';
  return {
    ...change.node,
    type,
    timestamp,
    ...(type === 'NODE_DEREGISTERED' ? { reason: 'expired' as const } : {}),
    resynced: true,
  };
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
