// How a view compares with a reply of Redis (a heartbeat or a sweep), at no extra round trip:
// events are hints, and this is where a view that went wrong is found.
import type { RegistryVersion } from '../../storage/registry-store.interface.js';
import type { RegistryView, ViewMark } from './registry-view.js';

/**
 * - `rollback`: Redis is below what the view had applied before the request left: Redis lost
 *   writes (a failover, a restore), or an event claimed a version Redis never reached.
 * - `behind`: Redis is ahead of the view (or on another epoch): events are on their way, or lost.
 * - `diverged`: same version, other digests (the view holds something Redis does not), or, for a
 *   whole view, another number of nodes than Redis's own count (a key written or deleted in Redis
 *   directly, which the library's digests cannot see).
 * - `ok`: nothing to repair (or nothing to compare with).
 */
export type ViewVerdict = 'ok' | 'rollback' | 'behind' | 'diverged';

export function checkView(view: RegistryView, reply: RegistryVersion, sent: ViewMark): ViewVerdict {
  if (reply.epoch === sent.epoch && reply.version < sent.version) return 'rollback';
  if (reply.epoch !== view.epoch || reply.version > view.version) return 'behind';
  const expected = view.digests.at(reply.version);
  if (!expected) return 'ok';
  const fields = view.digests.fields;
  for (let i = 0; i < fields.length; i++) {
    const actual = fields[i] === 'digest' ? reply.digest : (reply.scopes[fields[i]] ?? 0);
    if (actual !== expected[i]) return 'diverged';
  }
  if (view.scope.all && reply.count !== expected[fields.length]) return 'diverged';
  return 'ok';
}
