-- What an operator sees of a job, in one round trip: its pause state, its cluster-wide totals and
-- its newest runs. Changes nothing.
-- KEYS: 1 job hash, 2 job ticks, 3 job history
-- ARGV: 1 how many runs, 2 initially paused ('1' | '0'), 3.. the total fields to read
-- Returns: {now, paused 1|0, reason, paused at, paused by, failures in a row, totals (one per
--   field asked for, in order), entries...}
--@include "pause-state"
--@include "history"
local state = redis.call('HMGET', HASH, 'pauseReason', 'pausedAt', 'pausedBy', 'failuresInRow')
local result = {now, isPaused(ARGV[2]) and 1 or 0, state[1] or '', state[2] or '', state[3] or '',
  state[4] or '0'}
for i = 3, #ARGV do result[#result + 1] = redis.call('HGET', HASH, 'n:' .. ARGV[i]) or '0' end
for _, entry in ipairs(redis.call('LRANGE', HISTORY, 0, tonumber(ARGV[1]) - 1)) do
  result[#result + 1] = entry
end
return result
