-- bench/lib/node_actors.lua -- the actors of bench/node.lua, as a module:
-- actors placed on another host of the node are started by module there
-- (actor.spawn{module = "lib.node_actors", fn = ...}), since a closure
-- cannot leave its host's Lua state. The work per message is
-- bench/lua.lua's.
local actor = require "actor"

local M = {}

-- Checks each ("n", i) of n, then tells root "done" and the time it ended
-- (actor.now(), this host's clock).
function M.consumer(root, n)
  local receive = actor.receive
  for i = 0, n - 1 do
    local name, v = receive()
    if name ~= "n" or v ~= i then
      actor.send(root, "bad", name, v)
      return
    end
  end
  actor.send(root, "done", actor.now())
end

-- Waits for "go", then sends n ("n", i) to cons; its sends wait for room.
function M.producer(cons, n)
  actor.receive()
  local send = actor.send
  for i = 0, n - 1 do send(cons, "n", i) end
end

-- Answers sq(i) with i * i until "stop".
function M.server()
  local receive, reply = actor.receive, actor.reply
  while true do
    local name, i = receive()
    if name == "stop" then return end
    reply(i * i)
  end
end

-- After "go", n sequential calls sq(k) to srv, each reply checked.
function M.caller(root, srv, n)
  actor.receive()
  local call = actor.call
  for i = 0, n - 1 do
    local k = i & 0xffff
    if call(srv, "sq", k) ~= k * k then
      actor.send(root, "bad", "call")
      return
    end
  end
  actor.send(root, "done")
end

-- A counter that tells root once its total reaches n.
function M.counter(root, n)
  local total = 0
  actor.serve {
    add = function(k)
      total = total + k
      if total == n then actor.send(root, "total", total) end
      return total
    end,
  }
end

-- After "go", starts n tasks on this host, each calling the counter once.
-- A million coroutines take more than the default Lua heap, and the last
-- of them waits seconds (bench/lua.lua's settings, for this host).
function M.tasks(root, c, n)
  actor.configure { memory_limit = 16384, send_timeout = 600000, call_timeout = 600000 }
  actor.receive()
  local call, spawn = actor.call, actor.spawn
  local function task()
    local ok, err = pcall(call, c, "add", 1)
    if not ok then actor.send(root, "failed", err) end
  end
  for _ = 1, n do spawn(task) end
end

-- After "go", n requests of the store, every step-th from first: a set of
-- key first..., or a get that must find one of the values.
function M.store_client(root, op, first, step, n, span, value)
  local kv = require "actor.kv"
  local keys = {}
  for i = first, n - 1, step do keys[#keys + 1] = string.format("key:%07d", i % span) end
  actor.send(root, "ready")
  actor.receive()
  local set, get = kv.set, kv.get
  if op == "set" then
    for i = 1, #keys do
      if set(keys[i], value) ~= true then actor.send(root, "bad", "set") return end
    end
  else
    for i = 1, #keys do
      if get(keys[i]) ~= value then actor.send(root, "bad", "get") return end
    end
  end
  actor.send(root, "done")
end

return M
