import { describe, expect, it } from '@jest/globals';
import { ServerClock } from '../../lib/common/server-clock.js';

/** A reply whose TIME Redis read `at` ms (Redis clock), sent and received at local times. */
function reply(clock: ServerClock, serverTime: number, sentAt: number, receivedAt: number) {
  clock.observe(serverTime, sentAt, receivedAt);
}

describe('ServerClock', () => {
  const local = () => ServerClock.local();

  it('estimates Redis time from the shortest round trip', () => {
    const clock = new ServerClock();
    const t = local();
    reply(clock, 1_000_000, t - 10, t - 6); // offset 1_000_000 - (t - 8)
    reply(clock, 1_000_050, t - 4, t - 2); // shorter: offset 1_000_050 - (t - 3)
    expect(Math.abs(clock.now() - (1_000_050 + (local() - (t - 3))))).toBeLessThan(2);
  });

  it('follows a step of Redis TIME at once, forward and back, and says by how much', () => {
    const steps: number[] = [];
    const clock = new ServerClock((step) => steps.push(step));
    const t = local();
    reply(clock, 5_000_000, t - 2, t);
    reply(clock, 5_000_000 + 8000 + 1, t - 1, t); // Redis now 8 s ahead of the estimate
    expect(steps).toHaveLength(1);
    expect(steps[0]).toBeGreaterThan(7990);
    expect(steps[0]).toBeLessThan(8010);
    expect(Math.abs(clock.now() - (5_008_001 + (local() - t)))).toBeLessThan(3);
    reply(clock, 5_000_000 - 3000, t - 1, t); // and then back, below where it started
    expect(steps).toHaveLength(2);
    expect(steps[1]).toBeLessThan(-10_990);
    expect(Math.abs(clock.now() - (4_997_000 + (local() - t)))).toBeLessThan(3);
  });

  it('takes no step from a reply that is merely slow (a paused Redis, a busy event loop)', () => {
    const steps: number[] = [];
    const clock = new ServerClock((step) => steps.push(step));
    const t = local();
    reply(clock, 9_000_000, t - 3002, t - 3000);
    // Sent 3 s ago, answered now: TIME lies inside the round trip, whatever the wait was.
    reply(clock, 9_003_000, t - 3000, t);
    expect(steps).toEqual([]);
  });

  it('takes no step after a slow first reply whose midpoint was off (a cold start)', () => {
    const steps: number[] = [];
    const clock = new ServerClock((step) => steps.push(step));
    const t = local();
    // The first reply took 60 ms, all of it on the way back: its midpoint is 30 ms off.
    reply(clock, 7_000_000, t - 100, t - 40);
    // A fast reply a moment later tells the truth: inside what the first one allowed.
    reply(clock, 7_000_000 + 60 + 40, t - 1, t);
    expect(steps).toEqual([]);
    expect(Math.abs(clock.now() - (7_000_100 + (local() - t)))).toBeLessThan(3);
    // A real step is still one: 60 ms beyond what any reply allowed.
    reply(clock, 7_000_100 + 60, t - 1, t);
    expect(steps).toHaveLength(1);
  });

  it('bounds Redis time from above on a link slow one way (latest)', () => {
    const clock = new ServerClock();
    const t = local();
    // Requests arrive at once, replies take 850 ms back: the midpoint is 425 ms off.
    reply(clock, 2_000_000, t - 850, t);
    const trueNow = 2_000_000 + 850;
    expect(clock.latest()).toBeGreaterThanOrEqual(trueNow - 1);
    expect(clock.latest() - trueNow).toBeLessThan(5);
    expect(clock.now()).toBeLessThanOrEqual(clock.latest());
  });
});
