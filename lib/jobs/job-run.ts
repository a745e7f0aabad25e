// One run of a distributed job: its context (tick, fencing token, signal) and the synchronous
// lease check behind `signal.aborted`, `isLeaseValid()` and `assertLease()`.
import { LeaseLostError } from '../common/errors.js';
import type { JobContext } from './distributed-job.interface.js';

/** What a run needs to know about this node's lease. */
export interface LeaseCheck {
  isValid(): boolean;
}

const abortedOf = Object.getOwnPropertyDescriptor(AbortSignal.prototype, 'aborted')!.get!;

export class JobRun implements JobContext {
  readonly tick: Date;
  private readonly controller = new AbortController();

  constructor(
    readonly jobName: string,
    tick: number,
    readonly token: number,
    readonly catchup: boolean,
    private readonly lease: LeaseCheck,
    readonly nodeId: string,
  ) {
    this.tick = new Date(tick);
    // After a stall the lease timer runs only when its turn comes, possibly after the job's own
    // timers: reading the signal checks the lease first, so a run never acts on a lost lease.
    const signal = this.controller.signal;
    Object.defineProperty(signal, 'aborted', {
      get: () => (this.checkLease(), abortedOf.call(signal) as boolean),
    });
    Object.defineProperty(signal, 'throwIfAborted', {
      value: () => {
        this.checkLease();
        if (abortedOf.call(signal)) throw signal.reason;
      },
    });
  }

  get signal(): AbortSignal {
    this.checkLease();
    return this.controller.signal;
  }

  isLeaseValid(): boolean {
    return this.checkLease();
  }

  /** Throws the reason this run must stop (lease lost, cancelled, shutdown), if any. */
  assertLease(): void {
    this.controller.signal.throwIfAborted();
  }

  abort(reason: Error): void {
    this.controller.abort(reason);
  }

  private checkLease(): boolean {
    if (this.lease.isValid()) return true;
    this.controller.abort(
      new LeaseLostError(`Job ${this.jobName}: this node's lease ran out; stop before acting`),
    );
    return false;
  }
}
