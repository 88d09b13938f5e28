-- bench/node.lua -- benchmarks of Lua actors on a node, every core:
--
--   build/troupe --threads N bench/node.lua [scale [name...]]
--     name   run only these: pairs, cross, tasks, store (default: all)
--
-- Rows like bench/lua.lua's (the median of TROUPE_BENCH_RUNS runs with
-- the min and max, wall clock from the root's "go" to the last "done"),
-- the same work per message, with the actors started by module
-- (bench/lib/node_actors.lua) on the host each row names. A row for "1
-- host" puts everything on host 0 (the node's other hosts stay idle); "N
-- hosts" spreads the actors over all of them. scripts/bench runs this
-- with one host per core and does not pin it.
--
--   pairs    8 producer -> consumer pairs (bench/lua.lua's one-way, the
--            sender waiting for room), each pair on one host.
--   cross    a producer on host 0 and its consumer on host 1; calls from
--            host 0 to a server on host 1, one caller, and 64 callers at
--            once.
--   tasks    1 M task actors over the hosts (each host's starter spawns
--            its share), each calling one counter on host 0 once; timed
--            until the counter's total, checked, is in.
--   store    100 clients spread over the hosts, sets then gets of 1 k
--            keys through actor.kv (the store on host 0, its C pair).
local actor = require "actor"

local B = dofile((arg[0]:match("^(.*/)") or "./") .. "lib/common.lua")(
  "bench/node.lua", "pairs|cross|tasks|store")
local RUNS, wanted, count = B.RUNS, B.wanted, B.count
local row, rate_text, runs_text = B.row, B.rate_text, B.runs_text

local HOSTS = actor.hosts()
if HOSTS < 2 then
  io.stderr:write("bench/node.lua: run it on a node of 2 hosts or more (troupe --threads N)\n")
  os.exit(2)
end
local root = actor.self()
local now = actor.now

local function fail(what)
  io.stderr:write("bench/node.lua: ", what, "\n")
  os.exit(1)
end

local function place(fn, host, ...)
  return actor.spawn { module = "lib.node_actors", fn = fn, host = host, args = { ... } }
end

-- Waits for `left` messages named `what`.
local function await(what, left)
  while left > 0 do
    local name, detail = actor.receive(600000)
    if name ~= what then fail("waiting for '" .. what .. "', got " .. tostring(name) ..
      " " .. tostring(detail)) end
    left = left - 1
  end
end

-- The rates of RUNS runs of f (which returns seconds) over n things.
local function rates(n, f)
  local r = {}
  for i = 1, RUNS do
    collectgarbage()
    r[i] = n / f()
  end
  return r
end

local function rate_row(name, values, unit, target)
  row(name, runs_text(values, rate_text), unit, target)
end

local function median(values)
  local s = {}
  for i, v in ipairs(values) do s[i] = v end
  table.sort(s)
  return s[(#s + 1) // 2]
end

-- Sends "go" to every pid, then waits for `left` of `what`: seconds.
local function go(pids, what, left)
  local t0 = now()
  for _, p in ipairs(pids) do actor.send(p, "go") end
  await(what, left)
  return (now() - t0) / 1000
end

-- -------------------------------------------------------------- pairs

local PAIRS = 8

local function run_pairs(n, spread)
  local prods = {}
  for i = 0, PAIRS - 1 do
    local host = spread and i % HOSTS or 0
    local cons = place("consumer", host, root, n)
    prods[#prods + 1] = place("producer", host, cons, n)
  end
  return go(prods, "done", PAIRS)
end

-- -------------------------------------------------------------- cross

local function run_cross(n)
  local cons = place("consumer", 1, root, n)
  return go({ place("producer", 0, cons, n) }, "done", 1)
end

local function run_calls(n, callers, srv)
  local pids = {}
  for i = 1, callers do pids[i] = place("caller", 0, root, srv, n // callers) end
  return go(pids, "done", callers)
end

-- -------------------------------------------------------------- tasks

local function run_tasks(n, hosts)
  local c = place("counter", 0, root, n)
  local starters = {}
  for h = 0, hosts - 1 do
    starters[#starters + 1] = place("tasks", h, root, c, n // hosts)
  end
  local secs = go(starters, "total", 1)
  actor.kill(c)
  return secs
end

-- -------------------------------------------------------------- store

local CLIENTS, KEYS, VALUE = 100, 1000, "value:0123456789"

local function run_store(op, n)
  local pids = {}
  for c = 0, CLIENTS - 1 do
    pids[#pids + 1] = place("store_client", c % HOSTS, root, op, c, CLIENTS, n, KEYS, VALUE)
  end
  await("ready", CLIENTS)
  return go(pids, "done", CLIENTS)
end

-- ---------------------------------------------------------------- main

if wanted("pairs") then
  local n = count(4e6) // PAIRS
  local one = rates(n * PAIRS, function() return run_pairs(n, false) end)
  local all = rates(n * PAIRS, function() return run_pairs(n, true) end)
  rate_row("node: Lua pairs one-way, 8 pairs, 1 host", one, "msgs/s", "-")
  rate_row("node: Lua pairs one-way, 8 pairs, " .. HOSTS .. " hosts", all, "msgs/s", "-")
  row("node: Lua pairs, " .. HOSTS .. " hosts / 1 host",
    string.format("%.2f", median(all) / median(one)), "x", "1.8")
end
if wanted("cross") then
  local n = count(3e6)
  rate_row("node: Lua one-way, host 0 -> host 1", rates(n, function() return run_cross(n) end),
    "msgs/s", "1.5 M")
  local srv = place("server", 1)
  n = count(3e5)
  rate_row("node: Lua calls, host 0 -> host 1, one caller",
    rates(n, function() return run_calls(n, 1, srv) end), "calls/s", "-")
  n = count(2e6) // 64 * 64
  rate_row("node: Lua calls, host 0 -> host 1, 64 callers",
    rates(n, function() return run_calls(n, 64, srv) end), "calls/s", "500 k")
  actor.send(srv, "stop")
end
if wanted("tasks") then
  local n = count(1e6) // HOSTS * HOSTS
  local label = n >= 1e6 and string.format("%g M", n / 1e6) or string.format("%g k", n / 1e3)
  local function secs(hosts)
    local s = {}
    for i = 1, RUNS do
      collectgarbage()
      s[i] = run_tasks(n, hosts)
    end
    return runs_text(s, function(t) return string.format("%.2f", t) end)
  end
  row("node: Lua tasks, " .. label .. " at once calling one counter, 1 host", secs(1), "s", "-")
  row("node: Lua tasks, " .. label .. " at once calling one counter, " .. HOSTS .. " hosts",
    secs(HOSTS), "s", "0.39")
end
if wanted("store") then
  local dir = os.tmpname()
  os.remove(dir)
  -- Removed when the Lua state closes, after the host stopped the writer
  -- (package.loaded holds the guard till then).
  package.loaded["bench/node.lua: the store's directory"] = setmetatable({}, { __gc = function()
    os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'")
  end })
  actor.configure { store = "c", writer = "log", data_dir = dir, fsync = "everysec" }
  local n = count(1e6)
  run_store("set", KEYS)
  local label = " (native pair, " .. CLIENTS .. " clients over " .. HOSTS .. " hosts, 1 k keys)"
  rate_row("node: store sets" .. label, rates(n, function() return run_store("set", n) end),
    "sets/s", "200 k")
  rate_row("node: store gets" .. label, rates(n, function() return run_store("get", n) end),
    "gets/s", "500 k")
end
