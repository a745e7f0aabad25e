import { describe, expect, it } from '@jest/globals';
import { NodeLease, type LeaseClocks } from '../../lib/discovery/membership/node-lease.js';

/** Clocks a test moves: the monotonic one stands still while the host is suspended. */
function clocks(): LeaseClocks & { advance(ms: number): void; suspend(ms: number): void } {
  let monotonic = 1_000;
  let wall = 1_700_000_000_000;
  return {
    monotonic: () => monotonic,
    wall: () => wall,
    advance(ms) {
      monotonic += ms;
      wall += ms;
    },
    suspend(ms) {
      wall += ms;
    },
  };
}

describe('NodeLease', () => {
  it('is valid until the beat that won it was sent + TTL', () => {
    const clock = clocks();
    const lease = new NodeLease(clock);
    lease.renewed(clock.monotonic() - 10, 1000);
    clock.advance(980);
    expect(lease.isValid()).toBe(true);
    clock.advance(20);
    expect(lease.isValid()).toBe(false);
    lease.end();
  });

  it('ends when the host was suspended past it, though the monotonic clock stood still', () => {
    const clock = clocks();
    const lease = new NodeLease(clock);
    const lost: string[] = [];
    lease.onLost((reason) => lost.push(reason));
    lease.renewed(clock.monotonic(), 1000);
    clock.advance(100);
    clock.suspend(5000); // a laptop lid closed, a VM paused: only the wall clock moves
    expect(lease.isValid()).toBe(false);
    expect(lost).toHaveLength(1);
    expect(lease.remaining()).toBe(0);
  });

  it('is not extended by a wall clock stepped back: the monotonic clock still ends it', () => {
    const clock = clocks();
    const lease = new NodeLease(clock);
    lease.renewed(clock.monotonic(), 1000);
    clock.suspend(-60_000); // an NTP step back
    clock.advance(1000);
    expect(lease.isValid()).toBe(false);
    lease.end();
  });
});
