-- Publishes a change from inside the script that made it, with the registry version it made: a
-- change and its announcement cannot come apart, and subscribers notice what they missed.
--@include "registry"
local function announce(channel, kind, epoch, version, reason, record)
  if channel == '' then return end
  local extra = ''
  if reason then extra = ',"reason":"' .. reason .. '"' end
  redis.call('PUBLISH', channel, '{"type":"' .. kind .. '","epoch":' .. cjson.encode(epoch) ..
    ',"version":' .. version .. ',"timestamp":' .. now .. extra .. ',"node":' .. record .. '}')
end
