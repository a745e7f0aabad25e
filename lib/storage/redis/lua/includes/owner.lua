-- The owner field of a node (`o:<id>` in meta): '<instance> <tag> <pool> <service,service...>',
-- written by its heartbeat with the record: the process that owns the id, the record's tag and
-- the digest fields the tag was counted in (each service once), so a removal subtracts exactly
-- what was counted. 'gone <instance>' is the tombstone of a deregistration: it refuses that
-- instance's late heartbeats until it lapses (the `gone` sorted set says when). Instance '-'
-- marks a record no process beats for, adopted by a recount (a record written to Redis directly).
-- An owner of an older version ('<instance> <tag>') names no fields: they come from its record.
local function ownerOf(value)
  if not value then return nil end
  local instance, tag, pool, services = string.match(value, '^(%S+) (%S+) ?(%S*) ?(%S*)')
  if not instance then return nil end
  if instance == 'gone' then return {gone = tag} end
  if not string.match(tag, '^%x+$') then return nil end
  local names = {}
  for name in string.gmatch(services, '[^,]+') do names[#names + 1] = name end
  if pool == '' then pool = nil end
  return {instance = instance, tag = tag, pool = pool, services = names}
end
