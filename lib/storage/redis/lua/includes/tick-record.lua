-- A tick's record in the job hash: `t:<tick>` = '<status> <token> <node> <at> <signature>',
-- status claimed | buffered | overlap, `at` the Redis time it was written.
--@include "job"
local function parse(record)
  return string.match(record or '', '^(%a+) (%d+) (%S+) (%d+) ?(%S*)$')
end
local function put(status, tick, token, node, signature)
  redis.call('HSET', HASH, 't:' .. tick, status .. ' ' .. token .. ' ' .. node .. ' ' .. now .. ' ' .. signature)
  redis.call('ZADD', TICKS, tick, tick)
end
