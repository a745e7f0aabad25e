-- A heartbeat: renews this node's deadline, writes its record if it changed or was lost, and
-- reaps expired peers on the way, so a healthy cluster needs no separate expiry sweeps. In the
-- steady state (this process owns the id with the same record, nothing expired) it is one HMGET,
-- one ZADD and one ZRANGE, with the record left out of the call.
-- KEYS: 1 nodes, 2 deadlines, 3 meta
-- ARGV: 1 nodeId, 2 owner ('<instance> <tag>'), 3 ttl, 4 channel ('' = none), 5 record ('' when
--   the caller believes Redis has it), 6 pool, 7 number of services k, 8..7+k services, then the
--   digest fields of a partial view (`d:<service>`, `p:<pool>`)
-- Returns: {outcome, epoch, version, now, deadline, next deadline|false, digest, scope digests...,
--   removed records...}; outcome 'duplicate' when another live process owns the id, 'resend' when
--   the record is needed
--@include "server-time"
local id, owner = ARGV[1], ARGV[2]
local scopeFrom = 8 + tonumber(ARGV[7])
local fields = {'o:' .. id, 'epoch', 'version', 'digest'}
for i = scopeFrom, #ARGV do fields[#fields + 1] = ARGV[i] end
local meta = redis.call('HMGET', KEYS[3], unpack(fields))
local now = serverTime()
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
-- Not the steady state: the shared functions are defined only on this path.
return (function()
--@include "registry"
--@include "reap-expired"
--@include "state-reply"
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
