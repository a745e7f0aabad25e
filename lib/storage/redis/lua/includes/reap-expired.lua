-- Removes (at most `limit`) nodes whose deadline has passed, announcing each once, and the
-- tombstones that lapsed. Returns the removed records and the earliest deadline left (or false).
-- A caller that was itself expired (`judge` false: its own deadline had passed, as far as it
-- knew when it sent the request: it was away, or Redis stood still) removes no node: after Redis stalled past the TTL every node looks
-- expired, and the first beats to come back must not announce live peers (or a node whose
-- deregistration waits in the same stall) as expired. The next beat of a node that was there
-- reaps what is really gone.
--@include "registry"
--@include "epoch"
--@include "remove-node"
--@include "announce"
local function sweepTombstones(limit)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now, 'LIMIT', 0, limit)) do
    local o = ownerOf(redis.call('HGET', KEYS[3], 'o:' .. id))
    if o and o.gone then redis.call('HDEL', KEYS[3], 'o:' .. id) end
    redis.call('ZREM', KEYS[4], id)
  end
end
local function reapExpired(channel, limit, judge, unleased)
  sweepTombstones(limit)
  local removed = {}
  local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
  local due = first[2] and tonumber(first[2]) <= now
  if not judge or not (due or unleased) then return removed, first[2] or false end
  local epoch = newEpoch()
  ensureDigests()
  local expired = {}
  if due then expired = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, limit) end
  -- A node whose signed lease ran out (see beat-4.lua): expired, whatever its deadline.
  if unleased then expired[#expired + 1] = unleased end
  for _, id in ipairs(expired) do
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
