-- Claims one tick of a job. A tick is claimed at most once, whatever other ticks were claimed
-- before or after it; a claim is refused once Redis time is past `notAfter` (the starting
-- deadline), so a claim that waited in an offline queue or behind a stall cannot start a stale
-- tick, and before `notBefore` (a clock too far ahead). A grant that needs confirming (`granted`)
-- is taken over by a later claim once it is `takeoverAfter` old unconfirmed: its claimer never
-- got the reply, or got it too late, and will not run it (confirm-2.lua refuses it then).
-- Redis holding a lower token than the claimer saw means it lost data (a restore, a failover to a
-- lagging replica): the records of ticks that ran may be gone. The time it was found (`lostAt`) is
-- kept: a tick claimable before then, with no record, is refused and recorded `lost` (it may have
-- run), and no catch-up candidate before then is claimed. Ticks may be missed, never doubled.
-- Records older than the job's retention (the largest any claimer asked for) are dropped as claims
-- come; by then every claim of them is refused by the deadline anyway.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 tick, 2 node, 3 signature, 4 request id, 5 notBefore (0: none), 6 notAfter,
--   7 retention, 8 overlap policy, 9 run lease, 10 token floor, 11 confirm ('1': the grant needs
--   confirming, '0': it is final), 12 takeoverAfter ms, 13 what to override ('' | 'record' |
--   'marker'), 14 the exact value overridden, 15 cooldown ms (0: none), 16 catch-up window
--   ('' = none), 17.. catch-up candidates as tick, notAfter, signature triples (oldest first)
-- Returns: {status, tick to run, token, holder, signature, now, cancelled token, status of the
--   record that took the tick, node whose grant was taken over, the job's retention, flags
--   ('forgedToken', 'forgedMarker' joined by ','), marker tick, the holding record as stored, when
--   Redis was found to have lost data ('' never), caught up tick, token pairs...}
--@include "tick-record"
--@include "fencing-token"
--@include "run-marker"
local tick, node, sig, request = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local notBefore, notAfter = tonumber(ARGV[5]) or 0, tonumber(ARGV[6])
local policy, lease, floor = ARGV[8], tonumber(ARGV[9]), ARGV[10]
local status0 = 'claimed'
if ARGV[11] == '1' then status0 = 'granted' end
local takeoverAfter, overriding, overridden = tonumber(ARGV[12]) or 0, ARGV[13], ARGV[14]
local cooldown = tonumber(ARGV[15]) or 0
local flags, tookOver, markerTick, raw = {}, '', '', ''
local lostAt = tonumber(redis.call('HGET', HASH, 'lostAt') or '')
if (tonumber(floor) or 0) > (tonumber(redis.call('HGET', HASH, 'token') or '0') or 0) then
  lostAt = now
  redis.call('HSET', HASH, 'lostAt', ms(now), 'token', floor)
end

-- The job's retention: the largest any claimer has used, so that a replica with a shorter one
-- (a rolling deploy with other settings) cannot drop what another may still claim.
local retention = tonumber(ARGV[7])
local kept = tonumber(redis.call('HGET', HASH, 'retention') or '0') or 0
if kept > retention then retention = kept
elseif retention > kept then redis.call('HSET', HASH, 'retention', ms(retention)) end

local function reply(status, runTick, token, holder, signature, cancelled, taken, caught)
  if forgedToken then flags[#flags + 1] = 'forgedToken' end
  local result = {status, runTick, token, holder, signature, now, cancelled or '', taken or '',
    tookOver, ms(retention), table.concat(flags, ','), markerTick, raw, lostAt and ms(lostAt) or ''}
  for _, value in ipairs(caught or {}) do result[#result + 1] = value end
  return result
end

local existing = redis.call('HGET', HASH, 't:' .. tick)
if existing then
  local status, token, holder, at, holderSig, holderRequest = parse(existing)
  local same = status and holder == node and holderRequest == request and request ~= ''
  -- The claim sent again to override the run marker that refused it: its own record gives way.
  local retried = same and overriding == 'marker' and (status == 'overlap' or status == 'buffered')
  if same and not retried then
    -- The same claim again (its reply was lost and the client sent it anew): the same answer.
    return reply(status == 'granted' and 'claimed' or status, tick, token, node, holderSig)
  end
  if retried and redis.call('HGET', HASH, 'buffered') == tick then
    redis.call('HDEL', HASH, 'buffered')
  end
  local forged = overriding == 'record' and existing == overridden
  local abandoned = status == 'granted' and tonumber(at) + takeoverAfter <= now and
    now <= notAfter and holder ~= node
  if not forged and not abandoned and not retried then
    raw = existing
    return reply('taken', tick, token or '0', holder or '', holderSig or '', nil, status)
  end
  if abandoned then tookOver = holder end
end
if now > notAfter then return reply('late', tick, '0', '', '') end
if notBefore > 0 and now < notBefore then return reply('early', tick, '0', '', '') end
local opens = notBefore > 0 and notBefore or tonumber(tick)
if lostAt and opens <= lostAt then
  -- Claimable before Redis was found to have lost data: it may have run, its record lost with the
  -- rest. Recorded as lost, so that no claim of any node runs it.
  put('lost', tick, '0', node, sig, request)
  return reply('lost', tick, '0', '', '')
end
if cooldown > 0 then
  -- A @Timeout job: the newest record holds the job while it is younger than the cooldown.
  local newest = redis.call('ZREVRANGE', TICKS, 0, 0)[1]
  if newest then
    local record = redis.call('HGET', HASH, 't:' .. newest)
    local status, token, holder, at, holderSig = parse(record)
    if status and tonumber(at) >= now - cooldown and not (overriding == 'record' and record == overridden) then
      raw = record
      return reply('taken', newest, token, holder, holderSig, nil, status)
    end
  end
end

local runTick, runSig, cancelled = tick, sig, nil
if policy ~= 'allow' then
  local run, why = activeRun(lease)
  if why == 'forged' then flags[#flags + 1] = 'forgedMarker' end
  if run and overriding == 'marker' and run[3] == overridden then run = nil end
  if run and tookOver ~= '' and run[2] == tick then run = nil end -- the abandoned grant's own marker
  local waiting = redis.call('HGET', HASH, 'buffered')
  if run and policy ~= 'cancelOther' then
    markerTick, raw = run[2], run[3]
    local _, _, holder, _, holderSig = parse(run[3])
    if policy == 'bufferOne' and not waiting then
      put('buffered', tick, '0', node, sig, request)
      redis.call('HSET', HASH, 'buffered', tick)
      return reply('buffered', tick, '0', holder or '', holderSig or '')
    end
    put('overlap', tick, '0', node, sig, request)
    return reply('overlap', tick, '0', holder or '', holderSig or '')
  end
  if run then cancelled = run[1] end
  if not run and waiting then
    -- The run a tick waited for ended without releasing it (its node died): the waiting tick runs
    -- now and this one waits in its place, so at most one tick ever waits.
    redis.call('HDEL', HASH, 'buffered')
    local status, _, _, _, waitingSig = parse(redis.call('HGET', HASH, 't:' .. waiting))
    if status == 'buffered' and tonumber(waiting) >= now - retention then
      put('buffered', tick, '0', node, sig, request)
      redis.call('HSET', HASH, 'buffered', tick)
      runTick, runSig = waiting, waitingSig
    end
  end
end

local caught = {}
if ARGV[16] ~= '' and runTick == tick then
  local previous = redis.call('ZREVRANGEBYSCORE', TICKS, '(' .. tick, '-inf', 'LIMIT', 0, 1)[1]
  local since = now - tonumber(ARGV[16])
  if previous then since = math.max(since, tonumber(previous) + 1) end
  for i = 17, #ARGV - 2, 3 do
    local candidate = tonumber(ARGV[i])
    if previous and candidate >= since and candidate < tonumber(tick)
      and not (lostAt and candidate <= lostAt)
      and now <= tonumber(ARGV[i + 1])
      and redis.call('HEXISTS', HASH, 't:' .. ARGV[i]) == 0 then
      local token = nextToken(floor)
      put(status0, ARGV[i], token, node, ARGV[i + 2], request)
      caught[#caught + 1] = ARGV[i]
      caught[#caught + 1] = token
    end
  end
end

local token = nextToken(floor)
if runTick == tick then put(status0, runTick, token, node, runSig, request)
else put('claimed', runTick, token, node, runSig, request) end
if policy ~= 'allow' then hold(token, runTick, lease) end
local old = redis.call('ZRANGEBYSCORE', TICKS, '-inf', '(' .. ms(now - retention), 'LIMIT', 0, 8)
for _, stale in ipairs(old) do drop(stale) end
return reply('claimed', runTick, token, node, runSig, cancelled, nil, caught)
