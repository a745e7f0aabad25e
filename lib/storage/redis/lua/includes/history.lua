-- The job's run history: a list (KEYS[3], the job's own slot) of JSON entries, newest first,
-- trimmed to its limit by the script that writes it.
local HISTORY = KEYS[3]
