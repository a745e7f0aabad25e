-- Removes a node at shutdown if this process owns it, announces it, and leaves a tombstone that
-- refuses this process's late heartbeats (one stalled behind the outage, a start that gave up)
-- for `ttl`, whether or not the node was still there. Another live process's node is left alone.
-- KEYS: 1 nodes, 2 deadlines, 3 meta, 4 gone
-- ARGV: 1 nodeId, 2 instance, 3 channel ('' = none), 4 ttl (how long the tombstone lasts)
-- Returns: 1 if this process owned the node (and it is gone), else 0
--@include "registry"
--@include "epoch"
--@include "remove-node"
--@include "announce"
--@include "reap-expired"
local id, instance = ARGV[1], ARGV[2]
local held = ownerOf(redis.call('HGET', KEYS[3], 'o:' .. id))
if held and held.instance and held.instance ~= instance then return 0 end
sweepTombstones(10)
local removed = 0
if held and held.instance then
  local epoch = newEpoch()
  ensureDigests()
  local record = removeNode(id)
  local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
  if record then announce(ARGV[3], 'NODE_DEREGISTERED', epoch, version, 'shutdown', record) end
  removed = 1
end
redis.call('HSET', KEYS[3], 'o:' .. id, 'gone ' .. instance)
redis.call('ZADD', KEYS[4], now + tonumber(ARGV[4]), id)
return removed
