// Applies one change event to the view, in registry-version order, and tells subscribers; says
// when the view cannot take it (a gap or another epoch) so that the caller resyncs.
import { recordTag, tagValue } from '../../storage/registry-digest.js';
import type { EventHandlers } from './event-handlers.js';
import type { WireEvent } from './node-record.codec.js';
import type { RegistryView } from './registry-view.js';

/** `applied` (or already in the view), or `resync`: the view missed something. */
export type ApplyOutcome = 'applied' | 'resync';

export class EventApplier {
  constructor(
    private readonly view: RegistryView,
    private readonly handlers: EventHandlers,
  ) {}

  apply(event: WireEvent): ApplyOutcome {
    const { view } = this;
    if (event.epoch !== view.epoch) {
      // The registry's first write, seen by a view loaded from an empty Redis: nothing to reload
      // (an empty registry at version 0 is the same in every epoch).
      const first = view.epoch === '' && view.version === 0 && event.version === 1;
      if (!first) return 'resync';
      view.epoch = event.epoch;
    }
    if (event.version <= view.version) return 'applied'; // already in the view
    if (event.version > view.version + 1) return 'resync';
    const { node } = event;
    if (event.type === 'NODE_DEREGISTERED') {
      // Even about this node: its lease is judged by its own heartbeats, never by an event.
      view.remove(node.nodeId, event.version);
    } else {
      view.upsert(node, event.version, tagValue(recordTag(event.record)));
    }
    view.advance(event.version);
    this.handlers.emit({
      ...node,
      type: event.type,
      timestamp: event.timestamp,
      ...(event.reason ? { reason: event.reason } : {}),
    });
    return 'applied';
  }
}
