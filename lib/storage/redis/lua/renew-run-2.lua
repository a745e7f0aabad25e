-- Extends the run marker while its run goes on.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 token, 2 run lease
-- Returns: 1 if the marker is still the run's (and was extended), else 0
--@include "job"
local run = redis.call('HGET', HASH, 'run')
if not run or string.match(run, '^(%d+)') ~= ARGV[1] then return 0 end
redis.call('HSET', HASH, 'runUntil', ms(now + tonumber(ARGV[2])))
return 1
