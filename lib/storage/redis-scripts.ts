/**
 * Lua scripts of the Redis registry. Each runs atomically on one hash slot and reads the clock with
 * `TIME`, so every deadline is Redis server time, never a client's clock. Events are published from
 * inside the script that made the change: a change and its announcement cannot come apart, and
 * the registry version in every event lets subscribers notice what they missed.
 *
 * Shared KEYS: 1 nodes, 2 deadlines, 3 meta, 4 owners.
 */
const PRELUDE = `
-- Service sets sit beside KEYS[1] ('<client prefix>{ns}:nodes'), so an ioredis keyPrefix applies
-- to them too and they share its slot.
local SVC = string.sub(KEYS[1], 1, -6) .. 'svc:'
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
local function dropServices(id, record)
  if not record then return end
  local ok, decoded = pcall(cjson.decode, record)
  if not ok or type(decoded) ~= 'table' or type(decoded.services) ~= 'table' then return end
  for _, service in ipairs(decoded.services) do
    if type(service) == 'table' and type(service.name) == 'string' then
      redis.call('SREM', SVC .. service.name, id)
    end
  end
end
local function announce(channel, kind, epoch, version, reason, record)
  if channel == '' then return end
  local extra = ''
  if reason then extra = ',"reason":"' .. reason .. '"' end
  redis.call('PUBLISH', channel, '{"type":"' .. kind .. '","epoch":' .. cjson.encode(epoch) ..
    ',"version":' .. version .. ',"timestamp":' .. now .. extra .. ',"node":' .. record .. '}')
end
-- Removes (at most \`limit\`) nodes whose deadline has passed, announcing each once. Returns the
-- epoch, the removed records and the earliest deadline left (or false). Costs one ZRANGE when
-- nothing has expired, which is nearly always.
local function reapExpired(channel, limit, epochCandidate)
  local removed = {}
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  if not first[2] or tonumber(first[2]) > now then return readEpoch(), removed, first[2] or false end
  local epoch = ensureEpoch(epochCandidate)
  local expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit)
  for _, id in ipairs(expired) do
    local record = redis.call('HGET', KEYS[1], id)
    dropServices(id, record)
    redis.call('HDEL', KEYS[1], id)
    redis.call('HDEL', KEYS[4], id)
    redis.call('ZREM', KEYS[2], id)
    if record then
      local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
      announce(channel, 'NODE_DEREGISTERED', epoch, version, 'expired', record)
      removed[#removed + 1] = record
    end
  end
  first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  return epoch, removed, first[2] or false
end
`;

/**
 * A heartbeat: renews this node's deadline, writes its record if it changed or was lost, and
 * reaps expired peers on the way, so a healthy cluster needs no separate expiry sweeps.
 * ARGV: 1 nodeId, 2 instance, 3 record, 4 ttl, 5 epoch candidate, 6 channel ('' = none),
 * 7 reap limit, 8.. service names.
 * Returns {outcome, epoch, version, now, deadline, next deadline|false, removed records...};
 * outcome 'duplicate' when another live process owns the id.
 */
export const BEAT_SCRIPT = `${PRELUDE}
local id, instance, record = ARGV[1], ARGV[2], ARGV[3]
local meta = redis.call('HMGET', KEYS[3], 'epoch', 'version')
local epoch, version = meta[1], tonumber(meta[2] or '0')
if not epoch then epoch = ensureEpoch(ARGV[5]) end
local owner = redis.call('HGET', KEYS[4], id)
local deadline = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
if owner and owner ~= instance and deadline > now then
  return {'duplicate', epoch, version, now, deadline, false}
end
local newDeadline = now + tonumber(ARGV[4])
redis.call('ZADD', KEYS[2], newDeadline, id)
local old = redis.call('HGET', KEYS[1], id)
local outcome = 'unchanged'
if old ~= record or owner ~= instance then
  outcome = 'updated'
  if not old or owner ~= instance then outcome = 'registered' end
  dropServices(id, old)
  for i = 8, #ARGV do redis.call('SADD', SVC .. ARGV[i], id) end
  redis.call('HSET', KEYS[1], id, record)
  redis.call('HSET', KEYS[4], id, instance)
  version = redis.call('HINCRBY', KEYS[3], 'version', 1)
  local kind = 'NODE_UPDATED'
  if outcome == 'registered' then kind = 'NODE_REGISTERED' end
  announce(ARGV[6], kind, epoch, version, nil, record)
end
local _, removed, nextDeadline = reapExpired(ARGV[6], tonumber(ARGV[7]), ARGV[5])
if #removed > 0 then version = currentVersion() end
local result = {outcome, epoch, version, now, newDeadline, nextDeadline}
for _, gone in ipairs(removed) do result[#result + 1] = gone end
return result
`;

/** ARGV: 1 nodeId, 2 instance, 3 epoch candidate, 4 channel. Returns 1 if removed. */
export const DEREGISTER_SCRIPT = `${PRELUDE}
local id = ARGV[1]
if redis.call('HGET', KEYS[4], id) ~= ARGV[2] then return 0 end
local record = redis.call('HGET', KEYS[1], id)
dropServices(id, record)
redis.call('HDEL', KEYS[1], id)
redis.call('HDEL', KEYS[4], id)
redis.call('ZREM', KEYS[2], id)
local epoch = ensureEpoch(ARGV[3])
local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
if record then announce(ARGV[4], 'NODE_DEREGISTERED', epoch, version, 'shutdown', record) end
return 1
`;

/**
 * Removes nodes whose deadline passed. Atomic, so however many peers run it at once, each expired
 * node is removed and announced exactly once.
 * ARGV: 1 epoch candidate, 2 channel, 3 batch limit.
 * Returns {epoch, version, now, nextDeadline|false, removed records...}.
 */
export const REAP_SCRIPT = `${PRELUDE}
local epoch, removed, nextDeadline = reapExpired(ARGV[2], tonumber(ARGV[3]), ARGV[1])
local result = {epoch, currentVersion(), now, nextDeadline}
for _, record in ipairs(removed) do result[#result + 1] = record end
return result
`;

/** Returns {epoch ('' before the first write), version, now, live records...}. */
export const SNAPSHOT_SCRIPT = `${PRELUDE}
local epoch = readEpoch()
local result = {epoch, currentVersion(), now}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local deadline = tonumber(redis.call('ZSCORE', KEYS[2], all[i]) or '0')
  if deadline > now then result[#result + 1] = all[i + 1] end
end
return result
`;

/** Returns {epoch ('' before the first write), version, now}. */
export const VERSION_SCRIPT = `${PRELUDE}
local epoch = readEpoch()
return {epoch, currentVersion(), now}
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
