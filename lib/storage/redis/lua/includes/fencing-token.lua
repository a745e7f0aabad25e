-- The job's fencing token: strictly increasing per job, at least Redis time in ms, and above the
-- highest token the claimer has seen (`floor`), so it keeps growing when the key is lost, even on a
-- Redis whose clock is behind. A stored token too far ahead of Redis time can only be forged (a
-- genuine one is Redis ms plus the claims of that ms): it is disregarded, and `forgedToken` says so.
--@include "job"
local TOKEN_AHEAD = 1000000000 -- ms (11.6 days)
local forgedToken = false
local function nextToken(floor)
  local stored = tonumber(redis.call('HGET', HASH, 'token') or '0') or 0
  if stored > now + TOKEN_AHEAD then
    forgedToken = true
    stored = 0
  end
  local token = ms(math.max(stored + 1, now, (tonumber(floor) or 0) + 1))
  redis.call('HSET', HASH, 'token', token)
  return token
end
