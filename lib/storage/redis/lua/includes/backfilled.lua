-- The ticks backfills claimed (KEYS[4], ZSET tick -> Redis time of the claim, the job's own slot),
-- kept for a day: a backfilled tick's record `t:<tick>` is trimmed by the next scheduled claim,
-- this set still refuses it to a concurrent backfill until its run is in the history.
local BACKFILLED = KEYS[4]
local BACKFILLED_FOR = 86400000
