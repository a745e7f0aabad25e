import { describe, expect, it } from '@jest/globals';
import { ConfirmationQueue } from '../../lib/discovery/view/confirmation-queue.js';
import type { WireEvent } from '../../lib/discovery/view/node-record.codec.js';

const event = (version: number) => ({ version }) as WireEvent;

describe('ConfirmationQueue: events wait for their confirmation read, a bounded number of them', () => {
  it('confirms one at a time, in the order they came', async () => {
    const confirmed: number[] = [];
    let inFlight = 0;
    let most = 0;
    const queue = new ConfirmationQueue({
      confirm: async (e) => {
        most = Math.max(most, (inFlight += 1));
        await Promise.resolve();
        confirmed.push(e.version);
        inFlight -= 1;
      },
      overflow: () => {
        throw new Error('no overflow expected');
      },
    });
    for (let v = 1; v <= 5; v++) queue.push(event(v));
    await new Promise((resolve) => setImmediate(resolve));
    expect(confirmed).toEqual([1, 2, 3, 4, 5]);
    expect(most).toBe(1);
  });

  it('past its limit, drops every waiting event and says how many, once per overflow', async () => {
    const confirmed: number[] = [];
    const overflows: number[] = [];
    let release!: () => void;
    const blocked = new Promise<void>((resolve) => (release = resolve));
    const queue = new ConfirmationQueue({
      limit: 3,
      confirm: async (e) => {
        if (e.version === 1) await blocked; // the first read hangs: the others wait
        confirmed.push(e.version);
      },
      overflow: (dropped) => overflows.push(dropped),
    });
    queue.push(event(1)); // being confirmed
    for (let v = 2; v <= 4; v++) queue.push(event(v)); // waiting: 3, the limit
    expect(queue.size).toBe(3);
    queue.push(event(5)); // one too many: 2, 3, 4 and 5 are dropped
    expect(overflows).toEqual([4]);
    expect(queue.size).toBe(0);
    queue.push(event(6));
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(confirmed).toEqual([1, 6]);
  });
});
