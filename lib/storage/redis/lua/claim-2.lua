-- Claims one tick of a job. A tick is claimed at most once, whatever other ticks were claimed
-- before or after it; a claim is refused once Redis time is past `notAfter` (the starting
-- deadline), so a claim that waited in an offline queue or behind a stall cannot start a stale
-- tick. Records older than `retention` are dropped as claims come; by then every claim of them is
-- refused by the deadline anyway.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 tick, 2 node, 3 signature, 4 notAfter, 5 retention, 6 overlap policy, 7 run lease,
--   8 forged signature to disregard ('' = none), 9 catch-up window ('' = none),
--   10 notBefore ('' or 0 = none: refused as early before it), 11 cooldown ms ('' or 0 = none:
--   taken while the newest record is younger), 12.. catch-up candidates as tick, signature pairs
--   (oldest first)
-- Returns: {status, tick to run, token, holder, signature, now, cancelled token, status of the
--   record that took the tick, caught up tick, token pairs...}
--@include "tick-record"
--@include "fencing-token"
--@include "run-marker"
local tick, node, sig = ARGV[1], ARGV[2], ARGV[3]
local notAfter, retention, policy, lease = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local function reply(status, runTick, token, holder, signature, cancelled, taken, caught)
  local result = {status, runTick, token, holder, signature, now, cancelled or '', taken or ''}
  for _, value in ipairs(caught or {}) do result[#result + 1] = value end
  return result
end

local existing = redis.call('HGET', HASH, 't:' .. tick)
if existing then
  local status, token, holder, _, holderSig = parse(existing)
  if ARGV[8] == '' or holderSig ~= ARGV[8] then
    return reply('taken', tick, token or '0', holder or '', holderSig or '', nil, status)
  end
end
if now > notAfter then return reply('late', tick, '0', '', '') end
local notBefore, cooldown = tonumber(ARGV[10]) or 0, tonumber(ARGV[11]) or 0
if notBefore > 0 and now < notBefore then return reply('early', tick, '0', '', '') end
if cooldown > 0 then
  -- A @Timeout job: the newest record holds the job while it is younger than the cooldown.
  local newest = redis.call('ZREVRANGE', TICKS, 0, 0)[1]
  if newest then
    local status, token, holder, at, holderSig = parse(redis.call('HGET', HASH, 't:' .. newest))
    if status and tonumber(at) >= now - cooldown and (ARGV[8] == '' or holderSig ~= ARGV[8]) then
      return reply('taken', newest, token, holder, holderSig, nil, status)
    end
  end
end

local runTick, runSig, cancelled = tick, sig, nil
if policy ~= 'allow' then
  local run = redis.call('HMGET', HASH, 'run', 'runUntil', 'buffered')
  local active = run[1] and tonumber(run[2] or '0') > now
  if active and policy ~= 'cancelOther' then
    if policy == 'bufferOne' and not run[3] then
      put('buffered', tick, '0', node, sig)
      redis.call('HSET', HASH, 'buffered', tick)
      return reply('buffered', tick, '0', node, sig)
    end
    put('overlap', tick, '0', node, sig)
    return reply('overlap', tick, '0', node, sig)
  end
  if active then cancelled = run[1] end
  if not active and run[3] then
    -- The run a tick waited for ended without releasing it (its node died): the waiting tick runs
    -- now and this one waits in its place, so at most one tick ever waits.
    redis.call('HDEL', HASH, 'buffered')
    local status, _, _, _, waitingSig = parse(redis.call('HGET', HASH, 't:' .. run[3]))
    if status == 'buffered' and tonumber(run[3]) >= now - retention then
      put('buffered', tick, '0', node, sig)
      redis.call('HSET', HASH, 'buffered', tick)
      runTick, runSig = run[3], waitingSig
    end
  end
end

local caught = {}
if ARGV[9] ~= '' and runTick == tick then
  local previous = redis.call('ZREVRANGEBYSCORE', TICKS, '(' .. tick, '-inf', 'LIMIT', 0, 1)[1]
  local since = now - tonumber(ARGV[9])
  if previous then since = math.max(since, tonumber(previous) + 1) end
  for i = 12, #ARGV - 1, 2 do
    local candidate = tonumber(ARGV[i])
    if previous and candidate >= since and candidate < tonumber(tick)
      and redis.call('HEXISTS', HASH, 't:' .. ARGV[i]) == 0 then
      local token = nextToken()
      put('claimed', ARGV[i], token, node, ARGV[i + 1])
      caught[#caught + 1] = ARGV[i]
      caught[#caught + 1] = token
    end
  end
end

local token = nextToken()
put('claimed', runTick, token, node, runSig)
if policy ~= 'allow' then hold(token, lease) end
local old = redis.call('ZRANGEBYSCORE', TICKS, '-inf', '(' .. ms(now - retention), 'LIMIT', 0, 8)
for _, stale in ipairs(old) do
  redis.call('HDEL', HASH, 't:' .. stale)
  redis.call('ZREM', TICKS, stale)
end
return reply('claimed', runTick, token, node, runSig, cancelled, nil, caught)
