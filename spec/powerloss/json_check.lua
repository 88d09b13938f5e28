-- json_check.lua: the power-loss simulator's restart of the JSON writer on
-- a disk state (spec/powerloss/jsonrun.c calls it): the writer's own start
-- (actor.jsonstart: the lock, leftovers, data.json or its fsynced copy),
-- and what it loaded. check(dir) -> true, data (key -> value), info; or
-- nil and why the writer would not take changes.
require "actor.core" -- preloads actor.file
local jsonstart = require "actor.jsonstart"

local M = {}

function M.check(dir)
  local st = jsonstart.open(dir, {
    log = function() end,
    beat = function() end,
    now = os.time() * 1000,
  })
  if st.lock then st.lock:close() end
  if st.unavailable then return nil, "the writer is unavailable: " .. st.unavailable end
  if st.refused then return nil, "the writer refuses changes: " .. st.refused end
  return true, st.data, st.info
end

return M
