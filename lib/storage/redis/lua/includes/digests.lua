-- Digests: the sum (mod 2^48) of the tags of the stored records, a tag being the first 48 bits of
-- the record's SHA-1; one for the whole registry (`digest`), one per service (`d:<name>`) and one
-- per pool (`p:<pool>`), so a view, whole or partial, can check it holds what Redis holds. A tag
-- counts while its owner field names it (see owner.lua): what a heartbeat counted in is what its
-- removal takes out, and a recount adds up exactly the owner fields.
--@include "server-time"
--@include "owner"
local M = 281474976710656
local function sha(record) return string.sub(redis.sha1hex(record or ''), 1, 12) end
local function tagOf(owner, record)
  local o = ownerOf(owner)
  return (o and o.tag) or sha(record)
end
-- The pool and the service names (each once) of a record, as its JSON says.
local function namesOf(record)
  local ok, node = pcall(cjson.decode, record or '')
  if not ok or type(node) ~= 'table' then return nil, {} end
  local services, seen = {}, {}
  if type(node.services) == 'table' then
    for _, s in ipairs(node.services) do
      if type(s) == 'table' and type(s.name) == 'string' and not seen[s.name] then
        seen[s.name] = true
        services[#services + 1] = s.name
      end
    end
  end
  local pool = node.serviceName
  if type(pool) ~= 'string' then pool = nil end
  return pool, services
end
-- The pool and services a node's tag was counted in: its owner's, else its record's.
local function countedNames(o, record)
  if o and o.pool then return o.pool, o.services end
  return namesOf(record)
end
local function fieldsFor(pool, services)
  local fields = {'digest'}
  if pool then fields[#fields + 1] = 'p:' .. pool end
  for _, name in ipairs(services) do fields[#fields + 1] = 'd:' .. name end
  return fields
end
-- Adds (sign 1) or removes (sign -1) a tag in digest fields.
local function count(fields, tag, sign)
  local value = tonumber(tag, 16) * sign
  for _, field in ipairs(fields) do
    local digest = tonumber(redis.call('HGET', KEYS[3], field) or '0')
    redis.call('HSET', KEYS[3], field, ms((digest + value) % M))
  end
end
-- Every digest added up again from the owner fields of the nodes that hold a deadline, in one
-- pass over the registry: a record with a deadline but no owner (written directly) is adopted
-- first (owner '-'), an owner without a deadline goes, and so does a digest field left without
-- members. Returns how many fields were wrong.
local function recount()
  local sums, existing, owners = {digest = 0}, {}, {}
  local meta = redis.call('HGETALL', KEYS[3])
  for i = 1, #meta, 2 do
    local field = meta[i]
    local kind = string.sub(field, 1, 2)
    if kind == 'o:' then owners[string.sub(field, 3)] = meta[i + 1]
    elseif kind == 'd:' or kind == 'p:' or field == 'digest' then existing[field] = meta[i + 1] end
  end
  local nodes = redis.call('HGETALL', KEYS[1])
  local records = {}
  for i = 1, #nodes, 2 do
    local id, record = nodes[i], nodes[i + 1]
    records[id] = record
    if not ownerOf(owners[id]) and redis.call('ZSCORE', KEYS[2], id) then
      local pool, services = namesOf(record)
      owners[id] = '- ' .. sha(record) .. ' ' .. (pool or '') .. ' ' .. table.concat(services, ',')
      redis.call('HSET', KEYS[3], 'o:' .. id, owners[id])
    end
  end
  for id, owner in pairs(owners) do
    local o = ownerOf(owner)
    if o and o.tag and not redis.call('ZSCORE', KEYS[2], id) then
      -- An owner whose node has no deadline (its keys deleted directly): nothing to count.
      redis.call('HDEL', KEYS[3], 'o:' .. id)
    elseif o and o.tag then
      local value = tonumber(o.tag, 16)
      for _, field in ipairs(fieldsFor(countedNames(o, records[id]))) do
        sums[field] = ((sums[field] or 0) + value) % M
      end
    end
  end
  local wrong = 0
  for field, old in pairs(existing) do
    if not sums[field] then
      redis.call('HDEL', KEYS[3], field)
      if tonumber(old) ~= 0 then wrong = wrong + 1 end
    end
  end
  for field, sum in pairs(sums) do
    if tonumber(existing[field] or '-1') ~= sum then
      if existing[field] or sum ~= 0 then wrong = wrong + 1 end
      redis.call('HSET', KEYS[3], field, ms(sum))
    end
  end
  return wrong
end
-- Digests missing (a registry written before they existed): add them up once.
local function ensureDigests()
  if redis.call('HEXISTS', KEYS[3], 'digest') == 0 then recount() end
end
