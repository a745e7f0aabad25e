-- One node's record if it is alive (its deadline ahead of Redis time). Changes nothing.
-- KEYS: 1 nodes, 2 deadlines
-- ARGV: 1 nodeId
-- Returns: the record, or false
--@include "server-time"
local deadline = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if deadline <= serverTime() then return false end
return redis.call('HGET', KEYS[1], ARGV[1])
