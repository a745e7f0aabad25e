-- Pauses or resumes a job for the whole cluster: every claim reads this state (claim-2.lua), so no
-- node runs a tick of a paused job, whatever it believes. The state outlives every node.
-- KEYS: 1 job hash, 2 job ticks
-- ARGV: 1 'paused' | 'active', 2 reason, 3 node, 4 initially paused ('1' | '0')
-- Returns: {now, 1 if it was paused before else 0}
--@include "pause-state"
local was = isPaused(ARGV[4])
setPaused(ARGV[1] == 'paused', ARGV[2], ARGV[3])
return {now, was and 1 or 0}
