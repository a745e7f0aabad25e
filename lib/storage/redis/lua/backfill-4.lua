-- Claims, for a backfill, the oldest of the given past ticks that never ran: no record `t:<tick>`
-- (the schedule's claims, within the job's retention), no entry in the history (runs that
-- ended), not claimed by another backfill. Refused while paused; refused whole (`unknown`) when the
-- history is full and the oldest tick asked for is older than its oldest entry (whether it ran
-- cannot be told). Ticks up to when Redis was found to have lost data (`lostAt`, claim-2.lua: a
-- claimer's token floor above the stored token) are skipped as `lost`: they may have run.
-- KEYS: 1 job hash, 2 job ticks, 3 job history, 4 backfilled ticks
-- ARGV: 1 node, 2 token floor, 3 initially paused ('1' | '0'), 4 request id, 5 history limit,
--   6.. tick, signature pairs (oldest first)
-- Returns: {status (claimed | none | paused | unknown), now, claimed tick, token, then tick, why
--   pairs of the ticks skipped before it (why: recorded | ran | backfilled | lost)}; with `unknown` the
--   third field is the oldest tick the history holds
--@include "tick-record"
--@include "fencing-token"
--@include "pause-state"
--@include "history"
--@include "backfilled"
if isPaused(ARGV[3]) then return {'paused', now, '', ''} end
local lostAt = tonumber(redis.call('HGET', HASH, 'lostAt') or '')
if (tonumber(ARGV[2]) or 0) > (tonumber(redis.call('HGET', HASH, 'token') or '0') or 0) then
  lostAt = now
  redis.call('HSET', HASH, 'lostAt', ms(now), 'token', ARGV[2])
end
local entries = redis.call('LRANGE', HISTORY, 0, -1)
local ran, oldest = {}, nil
for _, entry in ipairs(entries) do
  local tick = string.match(entry, '^{"tick":(%d+),')
  if tick then
    ran[tick] = true
    if not oldest or tonumber(tick) < oldest then oldest = tonumber(tick) end
  end
end
if #entries >= (tonumber(ARGV[5]) or 0) and ARGV[6] and oldest and tonumber(ARGV[6]) < oldest then
  return {'unknown', now, ms(oldest), ''}
end
redis.call('ZREMRANGEBYSCORE', BACKFILLED, '-inf', '(' .. ms(now - BACKFILLED_FOR))
local result = {'none', now, '', ''}
for i = 6, #ARGV - 1, 2 do
  local tick, why = ARGV[i], nil
  if lostAt and tonumber(tick) <= lostAt then why = 'lost'
  elseif redis.call('HEXISTS', HASH, 't:' .. tick) == 1 then why = 'recorded'
  elseif ran[tick] then why = 'ran'
  elseif redis.call('ZSCORE', BACKFILLED, tick) then why = 'backfilled' end
  if not why then
    local token = nextToken(ARGV[2])
    put('claimed', tick, token, ARGV[1], ARGV[i + 1], ARGV[4])
    redis.call('ZADD', BACKFILLED, now, tick)
    tally('backfilled')
    expireIdle(redis.call('HGET', HASH, 'retention'), HASH, TICKS, BACKFILLED)
    result[1], result[3], result[4] = 'claimed', tick, token
    return result
  end
  result[#result + 1] = tick
  result[#result + 1] = why
end
return result
