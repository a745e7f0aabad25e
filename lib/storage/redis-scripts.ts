// Lua scripts that change the Redis registry: heartbeat, deregistration and expiry. Each runs
// atomically on the keys of one namespace (one hash slot) and reads TIME.

/**
 * Every deadline is Redis server time, never a client's clock. Events are published from inside
 * the script that made the change: a change and its announcement cannot come apart, and the
 * registry version in every event lets subscribers notice what they missed. The registry also
 * keeps digests: the sum (mod 2^48) of the tags of the stored records, a tag being the first 48
 * bits of the record's SHA-1; one for the whole registry (`digest`), one per service (`d:<name>`)
 * and one per pool (`p:<name>`), so a view, whole or partial, can check it holds what Redis holds.
 *
 * KEYS: 1 nodes (HASH id -> record), 2 deadlines (ZSET id -> deadline), 3 meta (HASH epoch,
 * version, digests, and `o:<id>` -> '<instance> <tag>' of each node's owner).
 * Service sets (`svc:<name>`) and pool sets (`pool:<name>`) sit beside KEYS[1], so an ioredis
 * keyPrefix applies to them too and they share its slot.
 */
export const PRELUDE = `
local NS = string.sub(KEYS[1], 1, -6)
local M = 281474976710656
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local function newEpoch()
  local epoch = redis.call('HGET', KEYS[3], 'epoch')
  if not epoch then
    epoch = redis.sha1hex(now .. KEYS[1] .. math.random())
    redis.call('HSET', KEYS[3], 'epoch', epoch, 'version', 0)
  end
  return epoch
end
local function tagOf(owner, record)
  local tag = owner and string.match(owner, ' (%x+)$')
  return tag or string.sub(redis.sha1hex(record or ''), 1, 12)
end
local function fmt(n) return string.format('%.0f', n) end
-- The digest fields a record counts in: the whole registry, its pool and its services.
local function fieldsOf(record)
  local ok, node = pcall(cjson.decode, record)
  local fields = {'digest'}
  if not ok or type(node) ~= 'table' then return fields, {} end
  if type(node.serviceName) == 'string' then fields[#fields + 1] = 'p:' .. node.serviceName end
  local services = {}
  if type(node.services) == 'table' then
    for _, s in ipairs(node.services) do
      if type(s) == 'table' and type(s.name) == 'string' then
        fields[#fields + 1] = 'd:' .. s.name
        services[#services + 1] = s.name
      end
    end
  end
  return fields, services, node.serviceName
end
-- Digests missing (a registry written before they existed): add them up once.
local function ensureDigests()
  if redis.call('HEXISTS', KEYS[3], 'digest') == 1 then return end
  local sums = {digest = 0}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local tag = tonumber(tagOf(redis.call('HGET', KEYS[3], 'o:' .. all[i]), all[i + 1]), 16)
    for _, field in ipairs(fieldsOf(all[i + 1])) do sums[field] = ((sums[field] or 0) + tag) % M end
  end
  for field, sum in pairs(sums) do redis.call('HSET', KEYS[3], field, fmt(sum)) end
end
-- Adds (sign 1) or removes (sign -1) a tag in every digest field of a record.
local function count(fields, tag, sign)
  local value = tonumber(tag, 16) * sign
  for _, field in ipairs(fields) do
    local digest = tonumber(redis.call('HGET', KEYS[3], field) or '0')
    redis.call('HSET', KEYS[3], field, fmt((digest + value) % M))
  end
end
-- Removes a node's record, owner, deadline and index entries; returns its record (or false).
local function removeNode(id)
  local record = redis.call('HGET', KEYS[1], id)
  local owner = redis.call('HGET', KEYS[3], 'o:' .. id)
  if record then
    local fields, services, pool = fieldsOf(record)
    for _, name in ipairs(services) do redis.call('SREM', NS .. 'svc:' .. name, id) end
    if type(pool) == 'string' then redis.call('SREM', NS .. 'pool:' .. pool, id) end
    count(fields, tagOf(owner, record), -1)
  end
  redis.call('HDEL', KEYS[1], id)
  redis.call('HDEL', KEYS[3], 'o:' .. id)
  redis.call('ZREM', KEYS[2], id)
  return record
end
local function announce(channel, kind, epoch, version, reason, record)
  if channel == '' then return end
  local extra = ''
  if reason then extra = ',"reason":"' .. reason .. '"' end
  redis.call('PUBLISH', channel, '{"type":"' .. kind .. '","epoch":' .. cjson.encode(epoch) ..
    ',"version":' .. version .. ',"timestamp":' .. now .. extra .. ',"node":' .. record .. '}')
end
-- Removes (at most \`limit\`) nodes whose deadline has passed, announcing each once. Returns the
-- removed records and the earliest deadline left (or false).
local function reapExpired(channel, limit)
  local removed = {}
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if not first[2] or tonumber(first[2]) > now then return removed, first[2] or false end
  local epoch = newEpoch()
  ensureDigests()
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)) do
    local record = removeNode(id)
    if record then
      local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
      announce(channel, 'NODE_DEREGISTERED', epoch, version, 'expired', record)
      removed[#removed + 1] = record
    end
  end
  first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return removed, first[2] or false
end
-- {epoch, version, digest, scope digests...} as they stand, for a reply.
local function state(from)
  local fields = {'epoch', 'version', 'digest'}
  for i = from, #ARGV do fields[#fields + 1] = ARGV[i] end
  local values = redis.call('HMGET', KEYS[3], unpack(fields))
  for i = 1, #values do values[i] = values[i] or '' end
  return values
end
-- A reply's head: {epoch, version, <the values given>, digest, scope digests...}.
local function stateReply(from, ...)
  local values = state(from)
  local result = {values[1], values[2], ...}
  for i = 3, #values do result[#result + 1] = values[i] end
  return result
end
`;

/**
 * A heartbeat: renews this node's deadline, writes its record if it changed or was lost, and
 * reaps expired peers on the way, so a healthy cluster needs no separate expiry sweeps. In the
 * steady state (this process owns the id with the same record, nothing expired) it is one HMGET,
 * one ZADD and one ZRANGE, with the record left out of the call.
 * ARGV: 1 nodeId, 2 owner ('<instance> <tag>'), 3 ttl, 4 channel ('' = none), 5 record ('' when
 * the caller believes Redis has it), 6 pool, 7 number of services k, 8..7+k services, then the
 * digest fields of a partial view (`d:<service>`, `p:<pool>`).
 * Returns {outcome, epoch, version, now, deadline, next deadline|false, digest, scope digests...,
 * removed records...}; outcome 'duplicate' when another live process owns the id, 'resend' when
 * the record is needed.
 */
export const BEAT_SCRIPT = `
local id, owner = ARGV[1], ARGV[2]
local scopeFrom = 8 + tonumber(ARGV[7])
local fields = {'o:' .. id, 'epoch', 'version', 'digest'}
for i = scopeFrom, #ARGV do fields[#fields + 1] = ARGV[i] end
local meta = redis.call('HMGET', KEYS[3], unpack(fields))
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local deadline = now + ARGV[3]
if meta[1] == owner and meta[4] then
  redis.call('ZADD', KEYS[2], deadline, id)
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if tonumber(first[2]) > now then
    meta[1] = 'unchanged'
    table.insert(meta, 4, now)
    table.insert(meta, 5, deadline)
    table.insert(meta, 6, first[2])
    for i = 7, #meta do meta[i] = meta[i] or '' end
    return meta
  end
end
return (function()
${PRELUDE}
local outcome = 'unchanged'
local epoch = newEpoch()
ensureDigests()
if meta[1] ~= owner then
  local holder = meta[1] and string.match(meta[1], '^(%S+)')
  local instance = string.match(owner, '^(%S+)')
  if holder and holder ~= instance then
    local held = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
    if held > now then return {'duplicate', epoch, 0, now, held, false, ''} end
  end
  local record = ARGV[5]
  if record == '' then return {'resend'} end
  local old = removeNode(id)
  outcome = 'updated'
  if not old or holder ~= instance then outcome = 'registered' end
  local added = {'digest', 'p:' .. ARGV[6]}
  redis.call('SADD', NS .. 'pool:' .. ARGV[6], id)
  for i = 8, scopeFrom - 1 do
    redis.call('SADD', NS .. 'svc:' .. ARGV[i], id)
    added[#added + 1] = 'd:' .. ARGV[i]
  end
  redis.call('HSET', KEYS[1], id, record)
  redis.call('HSET', KEYS[3], 'o:' .. id, owner)
  count(added, string.match(owner, ' (%x+)$'), 1)
  local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
  local kind = 'NODE_UPDATED'
  if outcome == 'registered' then kind = 'NODE_REGISTERED' end
  announce(ARGV[4], kind, epoch, version, nil, record)
end
redis.call('ZADD', KEYS[2], deadline, id)
local removed, nextDeadline = reapExpired(ARGV[4], 100)
local result = stateReply(scopeFrom, now, deadline, nextDeadline)
table.insert(result, 1, outcome)
for _, gone in ipairs(removed) do result[#result + 1] = gone end
return result
end)()
`;

/** ARGV: 1 nodeId, 2 instance, 3 channel. Returns 1 if removed. */
export const DEREGISTER_SCRIPT = `${PRELUDE}
local id = ARGV[1]
local owner = redis.call('HGET', KEYS[3], 'o:' .. id)
if not owner or string.match(owner, '^(%S+)') ~= ARGV[2] then return 0 end
local epoch = newEpoch()
ensureDigests()
local record = removeNode(id)
local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
if record then announce(ARGV[3], 'NODE_DEREGISTERED', epoch, version, 'shutdown', record) end
return 1
`;

/**
 * Removes nodes whose deadline passed. Atomic, so however many peers run it at once, each expired
 * node is removed and announced exactly once.
 * ARGV: 1 channel, 2.. digest fields of a partial view.
 * Returns {epoch, version, now, nextDeadline|false, digest, scope digests..., removed records...}.
 */
export const REAP_SCRIPT = `${PRELUDE}
local removed, nextDeadline = reapExpired(ARGV[1], 100)
local result = stateReply(2, now, nextDeadline)
for _, record in ipairs(removed) do result[#result + 1] = record end
return result
`;
