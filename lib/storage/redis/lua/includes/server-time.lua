-- Redis server time in ms: the one clock every script measures deadlines and ticks in.
local function serverTime()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
-- A whole number of ms as a string without an exponent (Lua prints large numbers as 1e+12).
local function ms(n) return string.format('%.0f', n) end
