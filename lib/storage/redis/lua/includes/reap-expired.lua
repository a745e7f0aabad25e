-- Removes (at most `limit`) nodes whose deadline has passed, announcing each once. Returns the
-- removed records and the earliest deadline left (or false).
--@include "registry"
--@include "epoch"
--@include "remove-node"
--@include "announce"
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
