-- A tick's record in the job hash: `t:<tick>` = '<status> <token> <node> <at> <signature>
-- <request>', status granted (claimed, its run not yet confirmed by the claimer) | claimed |
-- buffered | overlap | lost (refused after a data loss), `at` the Redis time it was written, `request` the claim's id.
--@include "job"
local function parse(record)
  return string.match(record or '', '^(%a+) (%d+) (%S+) (%d+) ?(%S*) ?(%S*)$')
end
local function put(status, tick, token, node, signature, request)
  redis.call('HSET', HASH, 't:' .. tick, status .. ' ' .. token .. ' ' .. node .. ' ' .. now ..
    ' ' .. (signature or '') .. ' ' .. (request or ''))
  redis.call('ZADD', TICKS, tick, tick)
end
local function drop(tick)
  redis.call('HDEL', HASH, 't:' .. tick)
  redis.call('ZREM', TICKS, tick)
end
