-- node_worker.lua: the worker examples/node.lua starts on the node's hosts.
-- A closure cannot cross to another host (each host has its own lua_State),
-- so a worker there is started by module: troupe runs
-- require("node_worker").start(...) in that host's state. troupe puts the
-- script's folder on package.path on every host, so this file is found.
local actor = require "actor"
local kv = require "actor.kv"

local worker = {}

-- Serves sum(from, to): adds the numbers up, keeps the result in the store
-- (which runs on host 0, reached through the node-wide name "router") and
-- answers it with the host it ran on.
function worker.start()
  actor.serve {
    sum = function(from, to)
      local total = 0
      for i = from, to do total = total + i end
      kv.set(("node:sum:%d-%d"):format(from, to), tostring(total))
      return total, actor.host()
    end,
  }
end

return worker
