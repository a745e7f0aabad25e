// With `signingKey`, each event waits for one read of Redis that confirms it. The wait is bounded:
// past `limit` waiting events, they are all dropped and one resync (rate-limited) reads instead,
// so a flood of events costs bounded memory and at most one snapshot per interval.
import type { WireEvent } from './node-record.codec.js';

/** How many events may wait for their confirmation read. */
export const CONFIRMATION_QUEUE_LIMIT = 256;

export interface ConfirmationQueueDeps {
  /** Confirms one event and applies it (never throws). */
  confirm(event: WireEvent): Promise<void>;
  /** `dropped` events were dropped unconfirmed: resync instead. */
  overflow(dropped: number): void;
  limit?: number;
}

/** Confirms events one at a time, in the order they came, with at most `limit` waiting. */
export class ConfirmationQueue {
  private waiting: WireEvent[] = [];
  private draining = false;
  private readonly limit: number;

  constructor(private readonly deps: ConfirmationQueueDeps) {
    this.limit = deps.limit ?? CONFIRMATION_QUEUE_LIMIT;
  }

  /** Events waiting now (the one being confirmed not included). */
  get size(): number {
    return this.waiting.length;
  }

  push(event: WireEvent): void {
    if (this.waiting.length >= this.limit) {
      const dropped = this.waiting.length + 1;
      this.waiting = [];
      this.deps.overflow(dropped);
      return;
    }
    this.waiting.push(event);
    if (!this.draining) void this.drain();
  }

  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (let next = this.waiting.shift(); next; next = this.waiting.shift()) {
        await this.deps.confirm(next);
      }
    } finally {
      this.draining = false;
    }
  }
}
