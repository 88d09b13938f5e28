-- node.lua: work spread over every core.
--
--   troupe examples/node.lua              (one host per core)
--   troupe --threads 3 examples/node.lua  (three hosts)
--
-- troupe runs a node: one host per thread, each with its own Lua state.
-- This root (on host 0) starts ten workers by module, host = "any" taking
-- the hosts in turn, asks each for the sum of a tenth of 1..100 with a call
-- -- a pid of another host is called like any other -- and adds the
-- answers up. Each worker keeps its result in the store, which lives on
-- host 0 and is reached from every host by name.
local actor = require "actor"
local kv = require "actor.kv"

print(("a node of %d hosts; the root runs on host %d"):format(actor.hosts(), actor.host()))

local workers = {}
for i = 1, 10 do
  workers[i] = actor.spawn { module = "node_worker", fn = "start", host = "any" }
end

local total, used = 0, {}
for i, w in ipairs(workers) do
  local from = (i - 1) * 10 + 1
  local sum, host = actor.call(w, "sum", from, from + 9)
  total = total + sum
  used[host] = true
end

local hosts = {}
for h in pairs(used) do hosts[#hosts + 1] = h end
table.sort(hosts)
print("hosts used: " .. table.concat(hosts, " "))
print("total: " .. total)

local stored = 0
for i = 1, 10 do
  local from = (i - 1) * 10 + 1
  if kv.get(("node:sum:%d-%d"):format(from, from + 9)) then stored = stored + 1 end
end
print(("kv: %d results stored"):format(stored))
