// The run context a `@DistributedJob()` method reads: `getJobContext()`, bound per run through
// AsyncLocalStorage so it follows the run across awaits.
import { AsyncLocalStorage } from 'node:async_hooks';
import type { JobContext } from './distributed-job.interface.js';

export const jobContextStorage = new AsyncLocalStorage<JobContext>();

/**
 * The context of the `@DistributedJob()` run this code is part of; undefined outside a run. Checks
 * the lease on the way, so after a stall the returned `signal` is already aborted.
 */
export function getJobContext(): JobContext | undefined {
  const context = jobContextStorage.getStore();
  context?.isLeaseValid();
  return context;
}
