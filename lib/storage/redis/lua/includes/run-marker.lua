-- The run marker of overlap policies other than `allow`: `run` = '<token> <tick>' of the run going
-- on, held until `runUntil` (Redis time), renewed while it runs, lapsing when its node dies. A
-- marker counts only while it names a tick record of its token and its `runUntil` is no further
-- ahead than a lease can set it; anything else was not written by a claim and is disregarded.
--@include "tick-record"
local function hold(token, tick, lease)
  redis.call('HSET', HASH, 'run', token .. ' ' .. tick, 'runUntil', ms(now + lease))
end
-- {token, tick, record} of the marker while it is active and consistent; else nil, and why.
local function activeRun(lease)
  local run = redis.call('HMGET', HASH, 'run', 'runUntil')
  if not run[1] then return nil end
  local token, tick = string.match(run[1], '^(%d+) (%d+)$')
  local untilAt = tonumber(run[2] or '0') or 0
  if untilAt <= now then return nil end
  if untilAt > now + 2 * lease then return nil, 'forged' end
  -- A marker of an older version of the library holds its token only.
  if not token and string.match(run[1], '^%d+$') then return {run[1], '', ''} end
  if not token then return nil, 'forged' end
  local record = redis.call('HGET', HASH, 't:' .. tick)
  local status, recordToken = parse(record)
  if recordToken ~= token or (status ~= 'claimed' and status ~= 'granted') then
    return nil, 'forged'
  end
  return {token, tick, record}
end
