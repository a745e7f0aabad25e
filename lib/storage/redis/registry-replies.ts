// Reads the replies of the registry scripts, one decoder per script, as each script's header lists
// them: the registry state (epoch, version, Redis time, digests) at their head, then their extras.
import type {
  BeatResult,
  ReapResult,
  RegistryVersion,
  ScopeRead,
} from '../registry-store.interface.js';
import type { ScriptReply } from './redis-script.js';

type Value = ScriptReply[number];

/** Epoch, version, time, then `digest, count, scope digests...` at the head of `rest`. */
function readState(
  epoch: Value,
  version: Value,
  serverTime: Value,
  rest: ScriptReply,
  scope: string[],
): RegistryVersion {
  const scopes: Record<string, number> = {};
  scope.forEach((field, i) => (scopes[field] = Number(rest[2 + i] || 0)));
  return {
    epoch: String(epoch ?? ''),
    version: Number(version || 0),
    digest: Number(rest[0] || 0),
    count: Number(rest[1] || 0),
    scopes,
    serverTime: Number(serverTime),
  };
}

const deadlineOrNull = (value: Value) => (value === null || value === false ? null : Number(value));

/**
 * `beat-4.lua`: {outcome, epoch, version, now, deadline, next deadline|false, digest, count,
 * scope digests..., removed records...}. The outcomes 'duplicate' and 'resend' are the caller's to read.
 */
export function decodeBeat(reply: ScriptReply, scope: string[]): BeatResult {
  const [outcome, epoch, version, serverTime, deadline, nextDeadline, ...rest] = reply;
  return {
    ...readState(epoch, version, serverTime, rest, scope),
    outcome: outcome as BeatResult['outcome'],
    deadline: Number(deadline),
    nextDeadline: deadlineOrNull(nextDeadline),
    removed: rest.slice(2 + scope.length).map(String),
  };
}

/** `reap-4.lua`: {epoch, version, now, next deadline|false, digest, count, scopes..., removed...}. */
export function decodeReap(reply: ScriptReply, scope: string[]): ReapResult {
  const [epoch, version, serverTime, nextDeadline, ...rest] = reply;
  return {
    ...readState(epoch, version, serverTime, rest, scope),
    nextDeadline: deadlineOrNull(nextDeadline),
    removed: rest.slice(2 + scope.length).map(String),
  };
}

/** `version-3.lua`: {epoch, version, now, digest, count, scope digests...}. */
export function decodeVersion(reply: ScriptReply, scope: string[]): RegistryVersion {
  const [epoch, version, serverTime, ...rest] = reply;
  return readState(epoch, version, serverTime, rest, scope);
}

/** `scope-4.lua`: the state of `version-3.lua`, then record, tag, owner triples. */
export function decodeScope(reply: ScriptReply, scope: string[]): ScopeRead & { owners: string[] } {
  const [epoch, version, serverTime, ...rest] = reply;
  const records: string[] = [];
  const tags: string[] = [];
  const owners: string[] = [];
  for (let i = 2 + scope.length; i + 2 < rest.length; i += 3) {
    records.push(String(rest[i]));
    tags.push(String(rest[i + 1]));
    owners.push(String(rest[i + 2]));
  }
  return { ...readState(epoch, version, serverTime, rest, scope), records, tags, owners };
}
