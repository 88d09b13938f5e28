-- hot_reload.lua -- a counter whose code is replaced while it runs, keeping
-- its count.
--
--   build/troupe examples/hot_reload.lua
--
-- The counter is a reloadable module (README "Hot reload"): it returns its
-- handlers, a version, and code_change, which turns the old version's state
-- into the new one's. This script writes version 1 of the module into a
-- temporary directory, starts a counter from it, calls it, rewrites the
-- file as version 2, reloads it, and calls the same counter again.
local actor = require "actor"

local dir = os.tmpname()
os.remove(dir)
assert(os.execute("mkdir " .. dir))
package.path = dir .. "/?.lua;" .. package.path

local function write_counter(src)
  local f = assert(io.open(dir .. "/demo_counter.lua", "w"))
  f:write(src)
  f:close()
end

write_counter [[
return {
  version = 1,
  init = function() return { count = 0 } end,
  handlers = {
    add = function(state, n)
      state.count = state.count + n
      return "v1: count is " .. state.count
    end,
  },
}
]]

local counter = actor.spawn { module = "demo_counter" }
print(actor.call(counter, "add", 1))
print(actor.call(counter, "add", 2))

-- Version 2 counts the calls too; code_change starts them at 0.
write_counter [[
return {
  version = 2,
  init = function() return { count = 0, calls = 0 } end,
  code_change = function(old, old_version)
    return { count = old.count, calls = 0, upgraded_from = old_version }
  end,
  handlers = {
    add = function(state, n)
      state.count = state.count + n
      state.calls = state.calls + 1
      return ("v2: count is %d (%d call since the upgrade from v%d)")
        :format(state.count, state.calls, state.upgraded_from)
    end,
  },
}
]]

-- A broken version first: reload refuses it and version 1 stays.
local saved = io.open(dir .. "/demo_counter.lua"):read("a")
write_counter "return { version = 3, handlers = { add = function( } }"
local ok, why = actor.reload("demo_counter")
print("reload of a broken file: " .. tostring(ok) .. " (" .. (why and "syntax error" or "?") .. ")")
print(actor.call(counter, "add", 3))

write_counter(saved)
print("reload -> version " .. tostring(actor.reload("demo_counter")))
print(actor.call(counter, "add", 4))

os.remove(dir .. "/demo_counter.lua")
os.remove(dir)
actor.kill(counter, "shutdown") -- the host ends when its actors have
