// This node's lease as its own heartbeats won it: valid until the last successful beat's send
// time + TTL on the monotonic clock and on the wall clock, checked synchronously, with listeners.
import { Logger } from '@nestjs/common';
import { performance } from 'node:perf_hooks';

/** The two clocks a lease is measured on (replaceable in tests). */
export interface LeaseClocks {
  /** ms, monotonic: immune to wall-clock steps, but stands still while the host is suspended. */
  monotonic(): number;
  /** ms, wall clock: moves on during a suspend. */
  wall(): number;
}

const SYSTEM_CLOCKS: LeaseClocks = { monotonic: () => performance.now(), wall: () => Date.now() };

/**
 * Redis set the deadline at some instant after the beat was sent, so "sent + TTL" is never later
 * than the real deadline: a check against it needs no clock offset and no round trip, and is right
 * the moment a stalled process resumes, before any timer could tell it. The monotonic clock does
 * not advance while the host is suspended (a laptop, a paused VM), so the lease also ends when the
 * wall clock passes sent + TTL: whichever clock says so first.
 */
export class NodeLease {
  private readonly logger = new Logger('NodeLease');
  private readonly listeners = new Set<(reason: string) => void>();
  private validUntil = -Infinity;
  private wallValidUntil = -Infinity;
  private timer: NodeJS.Timeout | undefined;
  private held = false;
  /** Lost since the last renewal: the next renewal says it is back. */
  private lost = false;

  constructor(private readonly clocks: LeaseClocks = SYSTEM_CLOCKS) {}

  /** A heartbeat sent at `sentAt` (monotonic ms) succeeded: the lease runs until `sentAt + ttl`. */
  renewed(sentAt: number, ttl: number): void {
    const now = this.clocks.monotonic();
    if (sentAt + ttl > this.validUntil) {
      this.validUntil = sentAt + ttl;
      this.wallValidUntil = this.clocks.wall() - (now - sentAt) + ttl;
    }
    this.held = true;
    if (this.lost) {
      this.lost = false;
      this.logger.log('Lease regained: a heartbeat reached Redis again');
    }
    clearTimeout(this.timer);
    // Also noticed by `isValid()` at once; the timer tells listeners when nothing asks.
    this.timer = setTimeout(() => this.check(), this.validUntil - now + 1);
    this.timer.unref();
  }

  /** Whether the lease is held now. Cheap: one monotonic clock read. */
  isValid(): boolean {
    if (this.clocks.monotonic() < this.validUntil && this.clocks.wall() < this.wallValidUntil) {
      return true;
    }
    if (this.held) this.lose('no heartbeat reached Redis in time');
    return false;
  }

  /** Ms the lease has left (0 when lost). */
  remaining(): number {
    return Math.max(
      0,
      Math.min(this.validUntil - this.clocks.monotonic(), this.wallValidUntil - this.clocks.wall()),
    );
  }

  /** Redis lost this node's registration (data loss, or reaped after a stall): the lease is gone. */
  lose(reason: string): void {
    this.validUntil = -Infinity;
    this.wallValidUntil = -Infinity;
    clearTimeout(this.timer);
    if (!this.held) return;
    this.held = false;
    this.lost = true;
    this.logger.warn(`Lease lost: ${reason}`);
    for (const listener of this.listeners) {
      try {
        listener(reason);
      } catch (error) {
        this.logger.error(`Lease-lost listener failed: ${String(error)}`);
      }
    }
  }

  /** Stops without telling listeners (deregistered on shutdown). */
  end(): void {
    this.held = false;
    this.lost = false;
    this.validUntil = -Infinity;
    this.wallValidUntil = -Infinity;
    clearTimeout(this.timer);
  }

  /** Runs `listener` when the lease is lost; returns a function that removes it. */
  onLost(listener: (reason: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private check(): void {
    this.isValid();
  }
}
