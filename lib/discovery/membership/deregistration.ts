// Removing this node's keys at shutdown: sent on the connection at once, not behind a stalled
// heartbeat (one connection keeps the order, so Redis applies it after that beat), leaving a
// tombstone that refuses any later beat of this process. Up to three tries, bounded by the TTL.
import type { Logger } from '@nestjs/common';
import { errorMessage } from '../../common/error-message.js';
import type { RegistryStore } from '../../storage/registry-store.interface.js';

export interface Deregistration {
  store: Pick<RegistryStore, 'deregister'>;
  nodeId: string;
  instance: string;
  /** How long the tombstone refuses this process's late beats, ms (the TTL). */
  ttl: number;
  /** Stop waiting for the reply after this long, ms (the TTL: by then the record expired anyway). */
  bound: number;
  /** Pause before the second try, ms (twice that before the third). */
  retryDelay: number;
  logger: Logger;
}

/** Resolves once Redis confirmed it, or when `bound` has passed (logged). */
export async function deregisterWithin({
  store,
  nodeId,
  instance,
  ttl,
  bound,
  retryDelay,
  logger,
}: Deregistration): Promise<void> {
  let done = false;
  const deregistered = (async () => {
    for (let attempt = 1; attempt <= 3 && !done; attempt++) {
      try {
        await store.deregister(nodeId, instance, ttl);
        return;
      } catch (error) {
        logger.warn(`Deregistration attempt ${attempt} failed: ${errorMessage(error)}`);
        if (attempt < 3) await new Promise((r) => setTimeout(r, attempt * retryDelay));
      }
    }
  })();
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    deregistered.then(() => 'done' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, bound, 'timeout'))),
  ]);
  done = true;
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn(
      `Redis did not confirm the deregistration of node ${nodeId} within ${bound} ms; it stays queued on the connection (Redis applies it when it answers), else the record expires by its TTL`,
    );
  }
}
