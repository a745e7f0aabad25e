-- A heartbeat: renews this node's deadline, writes its record if it changed or was lost (or was
-- replaced in Redis by anything but this heartbeat: its tag no longer matches), and reaps expired
-- peers on the way (unless this node was expired itself: see reap-expired.lua), and peers whose
-- signed lease ran out (one checked per beat, in turn, with a signing key), so a healthy
-- cluster needs no separate expiry sweeps. In the steady state (this process owns the id with the
-- same record, nothing expired, no tombstone lapsed) it is one HMGET, one HGET (the record,
-- checked against its tag), two ZRANGEs, one ZADD and one ZCARD, with the record left out.
-- KEYS: 1 nodes, 2 deadlines, 3 meta, 4 gone
-- ARGV: 1 nodeId, 2 owner ('<instance> <tag> <pool> <service,service...>', see owner.lua),
--   3 ttl, 4 channel ('' = none), 5 record ('' when the caller believes Redis has it), 6 signed
--   lease ('<until> <signature>', appended to the owner field; '' without a signing key), then
--   the digest fields of a partial view (`d:<service>`, `p:<pool>`)
-- Returns: {outcome, epoch, version, now, deadline, next deadline|false, digest, count, scope
--   digests..., removed records...}; {'duplicate', epoch, 0, now, holder's deadline} when another
--   live process owns the id, {'resend'} when the record is needed, {'gone'} when this process
--   deregistered the id (its tombstone refuses the beat)
--@include "server-time"
local id, owner, lease = ARGV[1], ARGV[2], ARGV[6]
local tag = string.match(owner, '^%S+ (%x+)')
local ownerValue = owner
if lease ~= '' then ownerValue = owner .. ' ' .. lease end
local fields = {'o:' .. id, 'epoch', 'version', 'digest'}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
local meta = redis.call('HMGET', KEYS[3], unpack(fields))
local now = serverTime()
local deadline = now + ARGV[3]
local stored = false
-- With signed leases, one node per beat (in turn) is checked: a node whose lease ran out is
-- expired whatever its deadline says (a deadline written back by hand cannot keep it).
local unleased = false
local function leaseLapsed()
  local size = redis.call('ZCARD', KEYS[2])
  if size == 0 then return false end
  local rank = redis.call('HINCRBY', KEYS[3], 'leaseCursor', 1) % size
  local other = redis.call('ZRANGE', KEYS[2], rank, rank)[1]
  if not other or other == id then return false end
  local value = redis.call('HGET', KEYS[3], 'o:' .. other) or ''
  local leaseEnd = string.match(value, '^%S+ %S+ %S* %S* (%d+) %S+$')
  if leaseEnd and tonumber(leaseEnd) <= now then return other end
  return false
end
-- The stored owner is this one (whatever lease it carries).
local ownsIt = meta[1] and (meta[1] == owner or string.sub(meta[1], 1, #owner + 1) == owner .. ' ')
if ownsIt and meta[4] then
  stored = redis.call('HGET', KEYS[1], id)
  if stored and string.sub(redis.sha1hex(stored), 1, 12) == tag then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    local lapsed = redis.call('ZRANGE', KEYS[4], 0, 0, 'WITHSCORES')[2]
    if lease ~= '' then unleased = leaseLapsed() end
    if first[2] and tonumber(first[2]) > now and not (lapsed and tonumber(lapsed) <= now)
      and not unleased then
      redis.call('ZADD', KEYS[2], deadline, id)
      if lease ~= '' then redis.call('HSET', KEYS[3], 'o:' .. id, ownerValue) end
      local result = {'unchanged', meta[2], meta[3], now, deadline, first[2], meta[4],
        redis.call('ZCARD', KEYS[2])}
      for i = 5, #fields do result[#result + 1] = meta[i] or '' end
      return result
    end
  end
  stored = stored and string.sub(redis.sha1hex(stored), 1, 12) == tag
end
-- Not the steady state: the shared functions are defined only on this path.
return (function()
--@include "registry"
--@include "reap-expired"
--@include "state-reply"
local outcome = 'unchanged'
-- Whether this node was there to see its peers expire: its own deadline had not passed.
local previous = redis.call('ZSCORE', KEYS[2], id)
local judge = not previous or tonumber(previous) > now
local epoch = newEpoch()
ensureDigests()
if not stored then
  local instance = string.match(owner, '^(%S+)')
  local held = ownerOf(meta[1])
  if held and held.gone == instance then return {'gone'} end
  local ours = held and held.instance == instance
  if held and held.instance and not ours and held.instance ~= '-' then
    local heldUntil = tonumber(redis.call('ZSCORE', KEYS[2], id) or '0')
    if heldUntil > now then return {'duplicate', epoch, 0, now, heldUntil} end
  end
  local record = ARGV[5]
  if record == '' then return {'resend'} end
  removeNode(id)
  redis.call('ZREM', KEYS[4], id)
  outcome = ours and 'updated' or 'registered'
  local mine = ownerOf(owner)
  redis.call('SADD', NS .. 'pool:' .. mine.pool, id)
  for _, name in ipairs(mine.services) do redis.call('SADD', NS .. 'svc:' .. name, id) end
  redis.call('HSET', KEYS[1], id, record)
  redis.call('HSET', KEYS[3], 'o:' .. id, ownerValue)
  count(fieldsFor(mine.pool, mine.services), tag, 1)
  local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
  local kind = 'NODE_UPDATED'
  if outcome == 'registered' then kind = 'NODE_REGISTERED' end
  announce(ARGV[4], kind, epoch, version, nil, record)
end
redis.call('ZADD', KEYS[2], deadline, id)
if stored and lease ~= '' then redis.call('HSET', KEYS[3], 'o:' .. id, ownerValue) end
local removed, nextDeadline = reapExpired(ARGV[4], 100, judge, unleased)
local result = stateReply(7, now, deadline, nextDeadline)
table.insert(result, 1, outcome)
for _, gone in ipairs(removed) do result[#result + 1] = gone end
return result
end)()
