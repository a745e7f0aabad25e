-- The job's fencing token: strictly increasing per job, and at least Redis time in ms, so it keeps
-- growing even if the key is lost.
--@include "job"
local function nextToken()
  local token = ms(math.max(tonumber(redis.call('HGET', HASH, 'token') or '0') + 1, now))
  redis.call('HSET', HASH, 'token', token)
  return token
end
