-- Writes one finished attempt of a run into the job's history (newest first, trimmed to `limit` in
-- this same call) and counts it in the cluster-wide totals of the job's hash: `n:runs` (first
-- attempts), `n:retries` (later ones), `n:<outcome>` for a run's final attempt, `failuresInRow`
-- (final errors since the last success). With `pauseAfterFailures` reached, the job is paused with
-- the last error as the reason.
-- KEYS: 1 job hash, 2 job ticks, 3 job history
-- ARGV: 1 limit, 2 pauseAfterFailures (0: none), 3 tick, 4 node, 5 token, 6 start (Redis ms),
--   7 outcome (ok | error | aborted | cancelled), 8 error class, 9 error message, 10 attempt,
--   11 final ('1': the run's last attempt), 12 kind (schedule | catchup | trigger | backfill)
-- Returns: {now, failures in a row, 1 if this call paused the job else 0}
--@include "pause-state"
--@include "history"
local function num(value) return string.match(value, '^%d+$') or '0' end
local outcome, attempt, final = ARGV[7], tonumber(num(ARGV[10])), ARGV[11] == '1'
local entry = '{"tick":' .. num(ARGV[3]) .. ',"node":' .. cjson.encode(ARGV[4]) .. ',"token":' ..
  num(ARGV[5]) .. ',"start":' .. num(ARGV[6]) .. ',"end":' .. ms(now) .. ',"outcome":' ..
  cjson.encode(outcome) .. ',"attempt":' .. attempt .. ',"kind":' .. cjson.encode(ARGV[12])
if ARGV[8] ~= '' then
  entry = entry .. ',"error":{"class":' .. cjson.encode(ARGV[8]) .. ',"message":' ..
    cjson.encode(ARGV[9]) .. '}'
end
redis.call('LPUSH', HISTORY, entry .. '}')
redis.call('LTRIM', HISTORY, 0, math.max(1, tonumber(ARGV[1]) or 1) - 1)
if attempt <= 1 then tally('runs') else tally('retries') end
local inRow = tonumber(redis.call('HGET', HASH, 'failuresInRow') or '0') or 0
local paused = 0
if final then
  tally(outcome)
  if outcome == 'error' then inRow = inRow + 1 elseif outcome == 'ok' then inRow = 0 end
  redis.call('HSET', HASH, 'failuresInRow', inRow)
  local limit = tonumber(ARGV[2]) or 0
  if outcome == 'error' and limit > 0 and inRow >= limit and redis.call('HGET', HASH, 'state') ~= 'paused' then
    setPaused(true, inRow .. ' failures in a row (pauseAfterFailures), the last: ' .. ARGV[8] ..
      ': ' .. ARGV[9], ARGV[4])
    paused = 1
  end
end
expireIdle(redis.call('HGET', HASH, 'retention'), HASH, TICKS, HISTORY)
return {now, inRow, paused}
