-- scripts/crashtest.d/load.lua: the write load that crashtest kills.
--
--   troupe [store options] load.lua ROUND CLIENTS FRESH HOT LEN HOT_LEN BIG SEED
--
-- CLIENTS actors write at once, each waiting for every acknowledgement
-- before its next write, until the process is killed (or 60 s pass: a
-- load nobody kills stops by itself). Client c writes, in random order:
--
--   fresh keys  k<ROUND>-<c>-<i>, i = 1..FRESH, each set once (version 1),
--               a body of 0..LEN bytes;
--   hot keys    h<c>-<j>, j = 1..HOT, set (3 times in 4) or deleted again
--               and again, version ROUND * 1000000 + n (n counts the
--               client's writes), a body of 0..HOT_LEN bytes: the log grows
--               over the live data, and the native writer compacts.
--
-- One hot write in 100 (if BIG > 0) is big instead: a body of up to BIG
-- bytes, a long write() for a kill to land in. Values come from model.value
-- (self-checking). Each step is a journal line on stdout, flushed before
-- the next step: "set <key> <version> <length>" or "del <key> <version>"
-- before the request, "ack <key> <version>" once it returned true. A
-- request that fails ends the process with status 3 (crashtest reports
-- it: the store must go on taking writes).
local actor = require "actor"
local kv = require "actor.kv"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local model = dofile(here .. "/model.lua")

local p = {}
for i, name in ipairs{ "round", "clients", "fresh", "hot", "len", "hot_len", "big", "seed" } do
  p[name] = math.tointeger(tonumber(arg[i]))
  assert(p[name], "usage: load.lua ROUND CLIENTS FRESH HOT LEN HOT_LEN BIG SEED")
end

local out = io.stdout
local function emit(line)
  out:write(line .. "\n") -- one write(2) a line
  out:flush()
end

local function client(c)
  local rnd = model.rng(p.seed * 1000003 + p.round * 1009 + c)
  local made, n = 0, 0
  while true do
    n = n + 1
    local key, version, len, op
    if made < p.fresh and (p.hot == 0 or rnd(4) > 1) then
      made = made + 1
      key, version, len, op = ("k%d-%d-%d"):format(p.round, c, made), 1, rnd(p.len + 1) - 1, "set"
    elseif p.hot > 0 then
      key, version = ("h%d-%d"):format(c, rnd(p.hot)), p.round * 1000000 + n
      op, len = rnd(4) == 1 and "del" or "set", rnd(p.hot_len + 1) - 1
      if p.big > 0 and rnd(100) == 1 then len = rnd(p.big) end
    else
      return -- nothing more to write
    end
    local ok
    if op == "set" then
      emit(("set %s %d %d"):format(key, version, len))
      ok = kv.set(key, model.value(key, version, len))
    else
      emit(("del %s %d"):format(key, version))
      ok = kv.delete(key) ~= nil -- true or false: whether the key was there
    end
    if ok ~= true then error(("%s %s %d returned %s"):format(op, key, version, tostring(ok))) end
    emit(("ack %s %d"):format(key, version))
  end
end

local pids = {}
for c = 1, p.clients do
  local pid = actor.spawn(client, c)
  pids[actor.monitor(pid)] = c
end

local deadline = actor.now() + 60000
while true do
  local name, ref, _, reason = actor.receive(math.max(0, math.floor(deadline - actor.now())))
  if name == nil then break end
  if name == "down" and pids[ref] and reason ~= "normal" then
    io.stderr:write(("crashtest load: client %d ended: %s\n"):format(pids[ref], tostring(reason)))
    io.stderr:flush()
    os.exit(3)
  end
end
