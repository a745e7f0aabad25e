-- Digests: the sum (mod 2^48) of the tags of the stored records, a tag being the first 48 bits of
-- the record's SHA-1; one for the whole registry (`digest`), one per service (`d:<name>`) and one
-- per pool (`p:<name>`), so a view, whole or partial, can check it holds what Redis holds.
--@include "server-time"
local M = 281474976710656
local function tagOf(owner, record)
  local tag = owner and string.match(owner, ' (%x+)$')
  return tag or string.sub(redis.sha1hex(record or ''), 1, 12)
end
-- The digest fields a record counts in: the whole registry, its pool and its services.
local function fieldsOf(record)
  local ok, node = pcall(cjson.decode, record)
  local fields = {'digest'}
  if not ok or type(node) ~= 'table' then return fields, {} end
  if type(node.serviceName) == 'string' then fields[#fields + 1] = 'p:' .. node.serviceName end
  local services = {}
  if type(node.services) == 'table' then
    for _, s in ipairs(node.services) do
      if type(s) == 'table' and type(s.name) == 'string' then
        fields[#fields + 1] = 'd:' .. s.name
        services[#services + 1] = s.name
      end
    end
  end
  return fields, services, node.serviceName
end
-- Digests missing (a registry written before they existed): add them up once.
local function ensureDigests()
  if redis.call('HEXISTS', KEYS[3], 'digest') == 1 then return end
  local sums = {digest = 0}
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local tag = tonumber(tagOf(redis.call('HGET', KEYS[3], 'o:' .. all[i]), all[i + 1]), 16)
    for _, field in ipairs(fieldsOf(all[i + 1])) do sums[field] = ((sums[field] or 0) + tag) % M end
  end
  for field, sum in pairs(sums) do redis.call('HSET', KEYS[3], field, ms(sum)) end
end
-- Adds (sign 1) or removes (sign -1) a tag in every digest field of a record.
local function count(fields, tag, sign)
  local value = tonumber(tag, 16) * sign
  for _, field in ipairs(fields) do
    local digest = tonumber(redis.call('HGET', KEYS[3], field) or '0')
    redis.call('HSET', KEYS[3], field, ms((digest + value) % M))
  end
end
