// Reads the replies of the registry scripts: the registry state (epoch, version, Redis time,
// digests) at their head, then, for a page, record and tag pairs.
import type { ScriptReply } from './redis-script.js';
import type { RegistryVersion, ScopeRead } from './registry-store.interface.js';

type Value = ScriptReply[number];

/** Epoch, version, time, then `digest, scope digests...` at the head of `rest`. */
export function readState(
  epoch: Value,
  version: Value,
  serverTime: Value,
  rest: ScriptReply,
  scope: string[],
): RegistryVersion {
  const scopes: Record<string, number> = {};
  scope.forEach((field, i) => (scopes[field] = Number(rest[1 + i] || 0)));
  return {
    epoch: String(epoch ?? ''),
    version: Number(version || 0),
    digest: Number(rest[0] || 0),
    scopes,
    serverTime: Number(serverTime),
  };
}

/** A state followed by record, tag pairs. */
export function readPage(
  epoch: Value,
  version: Value,
  serverTime: Value,
  rest: ScriptReply,
  scope: string[],
): ScopeRead {
  const records: string[] = [];
  const tags: string[] = [];
  for (let i = 1 + scope.length; i + 1 < rest.length; i += 2) {
    records.push(String(rest[i]));
    tags.push(String(rest[i + 1]));
  }
  return { ...readState(epoch, version, serverTime, rest, scope), records, tags };
}
