// The subscribers of discovery events: each gets every event, a failing one is counted and
// logged, never allowed to stop the others or the view.
import type { Telemetry } from '../../common/telemetry/telemetry.js';
import type { Logger } from '@nestjs/common';
import type { DiscoveryEvent, DiscoveryEventHandler } from '../node-info.interface.js';
import type { ViewChange } from './registry-view.js';
import { errorMessage } from '../../common/error-message.js';

/**
 * A change found by a resync, as an event: its `timestamp` is when it was noticed, and a missed
 * removal reads as `expired`.
 */
export function resyncedEvent(change: ViewChange, timestamp: number): DiscoveryEvent {
  const type =
    change.type === 'added'
      ? 'NODE_REGISTERED'
      : change.type === 'changed'
        ? 'NODE_UPDATED'
        : 'NODE_DEREGISTERED';
  return {
    ...change.node,
    type,
    timestamp,
    ...(type === 'NODE_DEREGISTERED' ? { reason: 'expired' as const } : {}),
    resynced: true,
  };
}

export class EventHandlers {
  private readonly handlers = new Set<DiscoveryEventHandler>();

  constructor(
    private readonly telemetry: Telemetry,
    private readonly logger: Logger,
    /** Events about this node are not delivered (option `ignoreOwnEvents`). */
    private readonly ignoreNodeId: string | undefined,
  ) {}

  add(handler: DiscoveryEventHandler): void {
    this.handlers.add(handler);
  }

  remove(handler: DiscoveryEventHandler): void {
    this.handlers.delete(handler);
  }

  emit(event: DiscoveryEvent): void {
    if (event.nodeId === this.ignoreNodeId) return;
    for (const handler of this.handlers) {
      try {
        const result = handler(event);
        if (result && typeof (result as Promise<void>).catch === 'function') {
          (result as Promise<void>).catch((error) => this.failed(error));
        }
      } catch (error) {
        this.failed(error);
      }
    }
  }

  private failed(error: unknown): void {
    this.telemetry.count('handlerErrors');
    this.logger.error(`Event handler failed: ${errorMessage(error)}`);
  }
}
