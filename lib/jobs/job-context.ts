import { AsyncLocalStorage } from 'node:async_hooks';
import type { JobContext } from './distributed-job.interface.js';

export const jobContextStorage = new AsyncLocalStorage<JobContext>();

/** The context of the `@DistributedJob()` run this code is part of; undefined outside a run. */
export function getJobContext(): JobContext | undefined {
  return jobContextStorage.getStore();
}
