-- Removes a node's record, owner, deadline and index entries, subtracting from the digests what
-- its owner field says was counted (nothing for a record written directly); a digest field whose
-- set is left empty goes too. A tombstone stays. Returns the record (or false).
--@include "registry"
--@include "digests"
local function unindex(kind, name, id)
  local set = NS .. kind .. ':' .. name
  redis.call('SREM', set, id)
  if redis.call('EXISTS', set) == 0 then
    redis.call('HDEL', KEYS[3], (kind == 'svc' and 'd:' or 'p:') .. name)
  end
end
local function removeNode(id)
  local record = redis.call('HGET', KEYS[1], id)
  local o = ownerOf(redis.call('HGET', KEYS[3], 'o:' .. id))
  local pool, services = nil, {}
  if o and o.tag then
    pool, services = countedNames(o, record)
    count(fieldsFor(pool, services), o.tag, -1)
  elseif record then
    pool, services = namesOf(record)
  end
  -- The record's own sets too, if it was replaced directly with other names.
  local recordPool, recordServices = namesOf(record)
  for _, name in ipairs(services) do unindex('svc', name, id) end
  for _, name in ipairs(recordServices) do unindex('svc', name, id) end
  if pool then unindex('pool', pool, id) end
  if recordPool and recordPool ~= pool then unindex('pool', recordPool, id) end
  redis.call('HDEL', KEYS[1], id)
  if not (o and o.gone) then redis.call('HDEL', KEYS[3], 'o:' .. id) end
  redis.call('ZREM', KEYS[2], id)
  return record
end
