// The owner field of a node as the registry scripts keep it (`o:<nodeId>`, see
// lua/includes/owner.lua): the process that owns the id, the record's tag, and the digest fields
// the tag is counted in, so that removing the node takes out exactly what was counted.
import type { BeatRequest } from './registry-store.interface.js';

/** '<instance> <tag> <pool> <service,service...>', each service name once. */
export function ownerField({ instance, tag, pool, services }: BeatRequest): string {
  return `${instance} ${tag} ${pool} ${[...new Set(services)].join(',')}`;
}

/** The record tag an owner field names (its second word), or undefined for a tombstone. */
export function ownerTag(owner: string): string | undefined {
  const [instance, tag] = owner.split(' ');
  return instance === 'gone' || !tag || !/^[0-9a-f]+$/.test(tag) ? undefined : tag;
}
