// A start that waits for a late Redis: retries the first registration with backoff up to
// `startupTimeout`, logs once why it waits, and fails with one error naming the address.
import type { Logger } from '@nestjs/common';
import { backoffDelay } from '../../common/backoff.js';
import { errorMessage } from '../../common/error-message.js';
import {
  DuplicateNodeIdError,
  isProtocolError,
  NotRedisError,
  RegistryUnavailableError,
} from '../../common/errors.js';
import { ServerClock } from '../../common/server-clock.js';
import type { RetryOptions } from '../../options/discovery-options.interface.js';
import type { RegistryStore } from '../../storage/registry-store.interface.js';

export interface StartupWait {
  startupTimeout: number;
  retry: Required<RetryOptions>;
  store: Pick<RegistryStore, 'address' | 'lastConnectionError'>;
  logger: Logger;
  /** Shutdown began: stop waiting. */
  stopping(): boolean;
}

/** Runs `attempt` until it succeeds, fails for good, or `startupTimeout` has passed. */
export async function waitForRegistry(
  attempt: () => Promise<void>,
  { startupTimeout, retry, store, logger, stopping }: StartupWait,
): Promise<void> {
  const startedAt = ServerClock.local();
  for (let tries = 1; ; tries++) {
    const left = startedAt + startupTimeout - ServerClock.local();
    try {
      return await within(attempt(), left);
    } catch (error) {
      if (!worthWaiting(error) || stopping()) throw error;
      const waited = Math.round(ServerClock.local() - startedAt);
      const last = store.lastConnectionError ?? errorMessage(error);
      // Not Redis at that port: waiting will not make it Redis.
      for (const message of [store.lastConnectionError, errorMessage(error)]) {
        if (isProtocolError(message)) throw new NotRedisError(store.address, waited, message!);
      }
      if (waited >= startupTimeout || error instanceof TimeoutError) {
        throw new RegistryUnavailableError(store.address, waited, last);
      }
      if (tries === 1) {
        logger.warn(
          `Waiting for Redis at ${store.address} (${last}); trying for up to ${startupTimeout} ms (option startupTimeout)`,
        );
      }
      const pause = backoffDelay(tries, retry.initialDelay, Math.min(retry.maxDelay, 2000));
      await new Promise((resolve) => setTimeout(resolve, Math.min(pause, startupTimeout - waited)));
    }
  }
}

class TimeoutError extends Error {}

/**
 * Whether a failed start may succeed by waiting: Redis unreachable, or answering that it is not
 * ready yet. A refusal (wrong password, no permission, a duplicate node id) fails at once.
 */
function worthWaiting(error: unknown): boolean {
  if (error instanceof DuplicateNodeIdError || !(error instanceof Error)) return false;
  if (error.name !== 'ReplyError') return true;
  return /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/.test(error.message);
}

/** `work`, or a TimeoutError once `ms` have passed (a command may wait in an offline queue). */
async function within<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError('no answer')), Math.max(0, ms));
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
