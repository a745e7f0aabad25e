-- Removes a node at shutdown if this process still owns it, and announces it.
-- KEYS: 1 nodes, 2 deadlines, 3 meta
-- ARGV: 1 nodeId, 2 instance, 3 channel ('' = none)
-- Returns: 1 if this process owned the node (and it is gone), else 0
--@include "registry"
--@include "epoch"
--@include "remove-node"
--@include "announce"
local id = ARGV[1]
local owner = redis.call('HGET', KEYS[3], 'o:' .. id)
if not owner or string.match(owner, '^(%S+)') ~= ARGV[2] then return 0 end
local epoch = newEpoch()
ensureDigests()
local record = removeNode(id)
local version = redis.call('HINCRBY', KEYS[3], 'version', 1)
if record then announce(ARGV[3], 'NODE_DEREGISTERED', epoch, version, 'shutdown', record) end
return 1
