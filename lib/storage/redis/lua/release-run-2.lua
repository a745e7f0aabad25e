-- Ends a run that holds the run marker. A tick waiting for it (`bufferOne`) is claimed for the
-- releasing node, which runs it next; a node that is shutting down leaves it to the next claim.
-- While the job is paused, the waiting tick does not start: it is recorded as `paused`.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 token, 2 node, 3 run lease, 4 retention, 5 take the waiting tick (1|0), 6 token floor,
--   7 initially paused ('1' | '0')
-- Returns: {held 0|1, now, next tick, next token}
--@include "tick-record"
--@include "fencing-token"
--@include "run-marker"
--@include "pause-state"
local run = redis.call('HGET', HASH, 'run')
if not run or string.match(run, '^(%d+)') ~= ARGV[1] then return {0, now} end
local retention = math.max(tonumber(ARGV[4]), tonumber(redis.call('HGET', HASH, 'retention') or '0') or 0)
local waiting = redis.call('HGET', HASH, 'buffered')
if waiting and isPaused(ARGV[7]) then
  redis.call('HDEL', HASH, 'buffered')
  local status, _, holder, _, waitingSig, waitingRequest = parse(redis.call('HGET', HASH, 't:' .. waiting))
  if status == 'buffered' then
    put('paused', waiting, '0', holder, waitingSig, waitingRequest)
    tally('skip:paused')
  end
  waiting = nil
end
if waiting and ARGV[5] == '1' then
  redis.call('HDEL', HASH, 'buffered')
  local status, _, _, _, waitingSig, waitingRequest = parse(redis.call('HGET', HASH, 't:' .. waiting))
  if status == 'buffered' and tonumber(waiting) >= now - retention then
    local token = nextToken(ARGV[6])
    put('claimed', waiting, token, ARGV[2], waitingSig, waitingRequest)
    hold(token, waiting, tonumber(ARGV[3]))
    return {1, now, waiting, token}
  end
end
redis.call('HDEL', HASH, 'run', 'runUntil')
return {1, now}
