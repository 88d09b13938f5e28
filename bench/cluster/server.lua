-- bench/cluster/server.lua -- the serving node of the cross-node rows
-- (scripts/bench.d/cluster.sh): a sink for one-way mail, which answers a
-- "sync" call once it has handled all that came before it (order holds
-- per pair of actors), and an echo server for calls; both registered
-- globally. Runs until the client node says "quit".
local actor = require "actor"

local sink = actor.spawn(function()
  local got = 0
  actor.serve {
    n = function(i) got = got + i end,
    sync = function() return got end,
  }
end)
actor.register_global("bench.sink", sink)
actor.register_global("bench.echo")
print("ready")
io.stdout:flush()
actor.serve {
  echo = function(k) return k * k end,
  quit = function() actor.exit("normal") end,
}
