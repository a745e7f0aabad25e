-- The run marker of overlap policies other than `allow`: the token of the run going on, held
-- until `runUntil` (Redis time), renewed while it runs, lapsing when its node dies.
--@include "job"
local function hold(token, lease)
  redis.call('HSET', HASH, 'run', token, 'runUntil', ms(now + lease))
end
