// Removing this node's keys at shutdown: up to three tries, bounded by the TTL, after which the
// record simply expires; a warning says so.
import type { Logger } from '@nestjs/common';
import { errorMessage } from '../../common/error-message.js';
import type { RegistryStore } from '../../storage/registry-store.interface.js';

export interface Deregistration {
  store: Pick<RegistryStore, 'deregister'>;
  nodeId: string;
  instance: string;
  /** Give up after this long, ms (the TTL: by then the record has expired anyway). */
  bound: number;
  /** Pause before the second try, ms (twice that before the third). */
  retryDelay: number;
  logger: Logger;
}

/** Resolves once the keys are gone, or when `bound` has passed (logged). */
export async function deregisterWithin(
  schedule: (work: () => Promise<void>) => Promise<void>,
  { store, nodeId, instance, bound, retryDelay, logger }: Deregistration,
): Promise<void> {
  const deregistered = schedule(async () => {
    for (let attempt = 1; attempt <= 3; attempt++) {
      try {
        await store.deregister(nodeId, instance);
        return;
      } catch (error) {
        logger.warn(`Deregistration attempt ${attempt} failed: ${errorMessage(error)}`);
        if (attempt < 3) await new Promise((r) => setTimeout(r, attempt * retryDelay));
      }
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    deregistered.then(() => 'done' as const),
    new Promise<'timeout'>((resolve) => (timer = setTimeout(resolve, bound, 'timeout'))),
  ]);
  clearTimeout(timer);
  if (outcome === 'timeout') {
    logger.warn(`Could not deregister node ${nodeId} within ${bound} ms; it expires by its TTL`);
  }
}
