// Lua scripts of the Redis registry: heartbeat, deregistration, expiry, snapshot and reads. Each
// runs atomically on the keys of one namespace (one hash slot) and reads the clock with TIME.

/**
 * Every deadline is Redis server time, never a client's clock. Events are published from inside
 * the script that made the change: a change and its announcement cannot come apart, and the
 * registry version in every event lets subscribers notice what they missed. The registry also
 * keeps a digest: the sum (mod 2^48) of the tags of the stored records, a tag being the first 48
 * bits of the record's SHA-1, so a view can check it holds exactly what Redis holds.
 *
 * Shared KEYS: 1 nodes, 2 deadlines, 3 meta, 4 owners (nodeId -> '<instance> <tag>').
 */
const PRELUDE = `
-- Service sets sit beside KEYS[1] ('<client prefix>{ns}:nodes'), so an ioredis keyPrefix applies
-- to them too and they share its slot.
local SVC = string.sub(KEYS[1], 1, -6) .. 'svc:'
local M = 281474976710656
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local function ensureEpoch(candidate)
  local epoch = redis.call('HGET', KEYS[3], 'epoch')
  if not epoch then
    epoch = candidate
    redis.call('HSET', KEYS[3], 'epoch', epoch, 'version', 0)
  end
  return epoch
end
-- Readers do not create the epoch: a client that only looks must write nothing.
local function readEpoch()
  return redis.call('HGET', KEYS[3], 'epoch') or ''
end
local function currentVersion()
  return tonumber(redis.call('HGET', KEYS[3], 'version') or '0')
end
-- The tag of a stored record: kept with its owner; computed for entries written without one.
local function tagOf(owner, record)
  local tag = owner and string.match(owner, ' (%x+)$')
  if tag then return tag end
  return string.sub(redis.sha1hex(record or ''), 1, 12)
end
local function readDigest()
  local digest = redis.call('HGET', KEYS[3], 'digest')
  if digest then return tonumber(digest) end
  -- A registry written before digests existed: add it up once (writers then store it).
  local sum = 0
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    sum = (sum + tonumber(tagOf(redis.call('HGET', KEYS[4], all[i]), all[i + 1]), 16)) % M
  end
  return sum
end
local function writeDigest(digest)
  redis.call('HSET', KEYS[3], 'digest', string.format('%.0f', digest))
end
-- Removes a node's record and keys; returns the record (or false) and the digest without it.
local function removeNode(id, digest)
  local record = redis.call('HGET', KEYS[1], id)
  local owner = redis.call('HGET', KEYS[4], id)
  if record then
    local ok, decoded = pcall(cjson.decode, record)
    if ok and type(decoded) == 'table' and type(decoded.services) == 'table' then
      for _, service in ipairs(decoded.services) do
        if type(service) == 'table' and type(service.name) == 'string' then
          redis.call('SREM', SVC .. service.name, id)
        end
      end
    end
    digest = (digest - tonumber(tagOf(owner, record), 16)) % M
  end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[4], id)
  redis.call('ZREM', KEYS[2], id)
  return record, digest
end
local function announce(channel, kind, epoch, version, reason, record)
  if channel == '' then return end
  local extra = ''
  if reason then extra = ',"reason":"' .. reason .. '"' end
  redis.call('PUBLISH', channel, '{"type":"' .. kind .. '","epoch":' .. cjson.encode(epoch) ..
    ',"version":' .. version .. ',"timestamp":' .. now .. extra .. ',"node":' .. record .. '}')
end
-- Removes (at most \`limit\`) nodes whose deadline has passed, announcing each once. Returns the
-- epoch, the removed records, the earliest deadline left (or false) and the digest if it changed.
-- Costs one ZRANGE when nothing has expired, which is nearly always.
local function reapExpired(channel, limit, epochCandidate)
  local removed = {}
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if not first[2] or tonumber(first[2]) > now then return readEpoch(), removed, first[2] or false end
  local epoch = ensureEpoch(epochCandidate)
  local digest = readDigest()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)) do
    local record
    record, digest = removeNode(id, digest)
    if record then
      local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
      announce(channel, 'NODE_DEREGISTERED', epoch, version, 'expired', record)
      removed[#removed + 1] = record
    end
  end
  writeDigest(digest)
  first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return epoch, removed, first[2] or false, digest
end
`;

/**
 * A heartbeat: renews this node's deadline, writes its record if it changed or was lost, and
 * reaps expired peers on the way, so a healthy cluster needs no separate expiry sweeps. Whether
 * the record changed is told by its tag, kept with the owner: a beat that changes nothing reads
 * one owner field and the meta hash, and writes one score.
 * ARGV: 1 nodeId, 2 instance, 3 record tag, 4 record, 5 ttl, 6 epoch candidate, 7 channel
 * ('' = none), 8 reap limit, 9.. service names.
 * Returns {outcome, epoch, version, now, deadline, next deadline|false, digest, removed records...};
 * outcome 'duplicate' when another live process owns the id.
 */
export const BEAT_SCRIPT = `${PRELUDE}
local id, instance, tag, record = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local mine = instance .. ' ' .. tag
local owner = redis.call('HGET', KEYS[4], id)
local meta = redis.call('HMGET', KEYS[3], 'epoch', 'version', 'digest')
local epoch, version, digest = meta[1], tonumber(meta[2] or '0'), tonumber(meta[3] or '')
if not epoch then epoch = ensureEpoch(ARGV[6]) end
local outcome = 'unchanged'
if owner ~= mine then
  local ownerInstance = owner and string.match(owner, '^(%S+)')
  if ownerInstance and ownerInstance ~= instance then
    local deadline = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
    if deadline > now then return {'duplicate', epoch, version, now, deadline, false, ''} end
  end
  local old
  old, digest = removeNode(id, digest or readDigest())
  outcome = 'updated'
  if not old or ownerInstance ~= instance then outcome = 'registered' end
  for i = 9, #ARGV do redis.call('SADD', SVC .. ARGV[i], id) end
  redis.call('HSET', KEYS[1], id, record)
  redis.call('HSET', KEYS[4], id, mine)
  digest = (digest + tonumber(tag, 16)) % M
  writeDigest(digest)
  version = redis.call('HINCRBY', KEYS[3], 'version', 1)
  local kind = 'NODE_UPDATED'
  if outcome == 'registered' then kind = 'NODE_REGISTERED' end
  announce(ARGV[7], kind, epoch, version, nil, record)
end
local newDeadline = now + tonumber(ARGV[5])
redis.call('ZADD', KEYS[2], newDeadline, id)
local _, removed, nextDeadline, reaped = reapExpired(ARGV[7], tonumber(ARGV[8]), ARGV[6])
if #removed > 0 then version = currentVersion() end
if reaped then digest = reaped end
if not digest then
  digest = readDigest()
  writeDigest(digest)
end
local result = {outcome, epoch, version, now, newDeadline, nextDeadline, string.format('%.0f', digest)}
for _, gone in ipairs(removed) do result[#result + 1] = gone end
return result
`;

/** ARGV: 1 nodeId, 2 instance, 3 epoch candidate, 4 channel. Returns 1 if removed. */
export const DEREGISTER_SCRIPT = `${PRELUDE}
local id = ARGV[1]
local owner = redis.call('HGET', KEYS[4], id)
if not owner or string.match(owner, '^(%S+)') ~= ARGV[2] then return 0 end
local record, digest = removeNode(id, readDigest())
writeDigest(digest)
local epoch = ensureEpoch(ARGV[3])
local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
if record then announce(ARGV[4], 'NODE_DEREGISTERED', epoch, version, 'shutdown', record) end
return 1
`;

/**
 * Removes nodes whose deadline passed. Atomic, so however many peers run it at once, each expired
 * node is removed and announced exactly once.
 * ARGV: 1 epoch candidate, 2 channel, 3 batch limit.
 * Returns {epoch, version, now, nextDeadline|false, digest, removed records...}.
 */
export const REAP_SCRIPT = `${PRELUDE}
local epoch, removed, nextDeadline, digest = reapExpired(ARGV[2], tonumber(ARGV[3]), ARGV[1])
local result = {epoch, currentVersion(), now, nextDeadline, string.format('%.0f', digest or readDigest())}
for _, record in ipairs(removed) do result[#result + 1] = record end
return result
`;

/** Returns {epoch ('' before the first write), version, now, digest, live record, its tag, ...}. */
export const SNAPSHOT_SCRIPT = `${PRELUDE}
local result = {readEpoch(), currentVersion(), now, string.format('%.0f', readDigest())}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local deadline = tonumber(redis.call('ZSCORE', KEYS[2], all[i]) or '0')
  if deadline > now then
    result[#result + 1] = all[i + 1]
    result[#result + 1] = tagOf(redis.call('HGET', KEYS[4], all[i]), all[i + 1])
  end
end
return result
`;

/** Returns {epoch ('' before the first write), version, now, digest}. */
export const VERSION_SCRIPT = `${PRELUDE}
return {readEpoch(), currentVersion(), now, string.format('%.0f', readDigest())}
`;

/** KEYS: 1 service set, 2 nodes, 3 deadlines. Returns {now, live records...}: O(nodes of the service). */
export const FETCH_SERVICE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local result = {now}
local ids = redis.call('SMEMBERS', KEYS[1])
if #ids == 0 then return result end
local records = redis.call('HMGET', KEYS[2], unpack(ids))
local deadlines = redis.call('ZMSCORE', KEYS[3], unpack(ids))
for i = 1, #ids do
  if records[i] and deadlines[i] and tonumber(deadlines[i]) > now then
    result[#result + 1] = records[i]
  end
end
return result
`;

/** KEYS: 1 nodes, 2 deadlines. ARGV: 1 nodeId. Returns the record if the node is alive, else false. */
export const FETCH_NODE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local deadline = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if deadline <= now then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
`;
