-- bench/cluster/client.lua -- the client node of the cross-node rows
-- (scripts/bench.d/cluster.sh), against bench/cluster/server.lua on
-- another node through NATS. Prints one line per run and measurement:
--   oneway SECONDS N     N sends of n(i) to the sink, in windows of 1000
--                        each closed by a "sync" call (a remote mailbox
--                        refuses what passes its 1024 bound: the sender
--                        hears nothing, so it must not outrun it)
--   call SECONDS N       N calls echo(k) in a row, each waited for
--   call64 SECONDS N     the same N calls from 64 actors at once
-- usage: troupe --cluster URL --node NAME client.lua SCALE RUNS
local actor = require "actor"
local scale, runs = tonumber(arg[1] or "1"), math.tointeger(tonumber(arg[2] or "5"))
local function count(n) return math.max(64, math.floor(n * scale)) end

local sink, echo
for _ = 1, 3000 do
  sink, echo = actor.whereis_global("bench.sink"), actor.whereis_global("bench.echo")
  if sink and echo then break end
  actor.sleep(10)
end
assert(sink and echo, "the server node is not there")

local now = actor.now
local WINDOW = 1000

local function oneway(n)
  local t0 = now()
  local sent = 0
  while sent < n do
    local w = math.min(WINDOW, n - sent)
    for _ = 1, w do actor.send(sink, "n", 1) end
    sent = sent + w
    actor.call(sink, "sync")
  end
  return (now() - t0) / 1000
end

local function calls(n)
  local t0 = now()
  for k = 1, n do assert(actor.call(echo, "echo", k) == k * k) end
  return (now() - t0) / 1000
end

local function calls64(n)
  local me, per = actor.self(), n // 64
  local t0 = now()
  for _ = 1, 64 do
    actor.spawn(function()
      for k = 1, per do assert(actor.call(echo, "echo", k) == k * k) end
      actor.send(me, "done")
    end)
  end
  for _ = 1, 64 do actor.receive() end
  return (now() - t0) / 1000, per * 64
end

oneway(count(20000)) -- warm: connections, frames, the server's heap
calls(count(2000))
for _ = 1, runs do
  local n = count(1000000)
  print(("oneway %.6f %d"):format(oneway(n), n))
  n = count(20000)
  print(("call %.6f %d"):format(calls(n), n))
  local s, done = calls64(count(200000))
  print(("call64 %.6f %d"):format(s, done))
  io.stdout:flush()
end
actor.send(echo, "quit")
