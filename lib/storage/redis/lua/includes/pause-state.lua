-- The job's pause state in its hash: `state` = 'paused' | 'active', with `pauseReason`, `pausedAt`
-- (Redis time) and `pausedBy` (node); no `state` yet: the job's initial state (`paused: true` in
-- its options, sent by every claimer), which the first pause or resume replaces for good.
-- Cluster-wide totals are `n:<what>` fields of the same hash (`tally`).
--@include "job"
local function isPaused(initially)
  local state = redis.call('HGET', HASH, 'state')
  if state then return state == 'paused' end
  return initially == '1'
end
local function tally(what, by)
  redis.call('HINCRBY', HASH, 'n:' .. what, by or 1)
end
local function setPaused(paused, reason, node)
  if paused then
    redis.call('HSET', HASH, 'state', 'paused', 'pauseReason', reason, 'pausedAt', ms(now),
      'pausedBy', node)
  else
    redis.call('HSET', HASH, 'state', 'active')
    redis.call('HDEL', HASH, 'pauseReason', 'pausedAt', 'pausedBy')
  end
end
