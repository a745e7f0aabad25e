-- One node's record if it is alive (its deadline ahead of Redis time), with its owner field (for
-- the caller to check a signed lease). Changes nothing.
-- KEYS: 1 nodes, 2 deadlines, 3 meta
-- ARGV: 1 nodeId
-- Returns: {record, owner or '', now}, or false
--@include "server-time"
local now = serverTime()
local deadline = tonumber(redis.call('ZSCORE', KEYS[2], ARGV[1]) or '0')
if deadline <= now then return false end
local record = redis.call('HGET', KEYS[1], ARGV[1])
if not record then return false end
return {record, redis.call('HGET', KEYS[3], 'o:' .. ARGV[1]) or '', now}
