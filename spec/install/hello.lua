-- hello.lua: a script outside troupe's tree, run by a stock lua5.4 that
-- finds the installed `actor` module through LUA_PATH and LUA_CPATH
-- (spec/install/check). It prints where the module came from.
local actor = require "actor"
print("actor: " .. package.searchpath("actor", package.path))
print("actor.core: " .. package.searchpath("actor.core", package.cpath))
actor.run(function()
  local pid = actor.spawn(function()
    actor.serve{ add = function(a, b) return a + b end }
  end)
  local sum = actor.call(pid, "add", 2, 3)
  print("lua actor: 2 + 3 = " .. sum)
  assert(sum == 5)
end)
