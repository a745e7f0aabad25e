// A start that waits for a late Redis: retries the first registration with backoff up to
// `startupTimeout`, logs once why it waits, and fails with one error naming the address. A node id
// still held by another process is waited for once, until the holder's deadline: a predecessor
// that crashed (same id, a restart within the TTL) lets go by then, a live holder renews.
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
  nodeId: string;
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
  { nodeId, startupTimeout, retry, store, logger, stopping }: StartupWait,
): Promise<void> {
  const startedAt = ServerClock.local();
  let waitedForHolder = false;
  for (let tries = 1; ; tries++) {
    const left = startedAt + startupTimeout - ServerClock.local();
    try {
      await within(attempt(), left);
      if (waitedForHolder) {
        logger.log(
          `nodeId "${nodeId}" registered: its previous holder let it lapse (a process that is gone)`,
        );
      }
      return;
    } catch (error) {
      if (error instanceof DuplicateNodeIdError && !stopping()) {
        const wait = holderWait(error, waitedForHolder, left, logger);
        if (wait === undefined) throw error;
        waitedForHolder = true;
        await new Promise((resolve) => setTimeout(resolve, wait));
        continue;
      }
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

/** Margin past the holder's deadline before trying again, ms (its reap happens in our beat). */
const HOLDER_MARGIN_MS = 50;

/**
 * How long to wait for the holder of this node id to let go, or undefined to fail now (logged
 * either way): a holder that renewed while this process waited is alive; one whose deadline
 * lies past `startupTimeout` cannot be waited for.
 */
function holderWait(
  error: DuplicateNodeIdError,
  waitedBefore: boolean,
  left: number,
  logger: Logger,
): number | undefined {
  const held = error.heldForMs;
  if (waitedBefore) {
    logger.error(
      `nodeId "${error.nodeId}" is held by a live process: it renewed its registration while this one waited`,
    );
    return undefined;
  }
  if (held === undefined || held + HOLDER_MARGIN_MS > left) {
    logger.error(
      `nodeId "${error.nodeId}" is held by another process for ${held ?? 'an unknown number of'} ms more, past startupTimeout: ${error.message}`,
    );
    return undefined;
  }
  logger.warn(
    `nodeId "${error.nodeId}" is still held by another process for ${Math.round(held)} ms unless it renews it (a crashed predecessor with the same id?); waiting for its registration to lapse (startupTimeout)`,
  );
  return held + HOLDER_MARGIN_MS;
}

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
