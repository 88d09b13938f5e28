-- bench/store.lua -- benchmarks of the key-value store from Lua, through
-- the router, with persistence on; run by the troupe binary:
--
--   build/troupe bench/store.lua [scale [name...]]
--     scale  multiplies every count (default 1; 0.01 for a quick smoke run)
--     name   run only these: native, lua (default: both; the Lua pair then
--            runs in a second troupe process, as a host starts one store)
--   TROUPE_BENCH_RUNS  runs per row (default 5)
--
-- Prints one markdown table row per measurement, under the header that
-- scripts/bench prints:  | benchmark | result | unit | target |
-- Targets are DESIGN.md's "Where it must stand"; "-" where it names none.
-- A result is the median of RUNS runs with the min and max beside it,
-- "median (min-max)"; the cost ratio is that of two rows' medians.
--
-- Every request is what a user's code does: kv.set / kv.get (actor.kv), a
-- call to "router", which forwards it to the store ("kv"); the store
-- answers a get itself and forwards a set to its writer, which answers once
-- the change is written to the log (group commit). Each run uses a fresh
-- temporary data directory, removed at the end, with fsync "everysec".
-- Keys are "key:0000042" (11 bytes), values 16 bytes. Times are wall time
-- (actor.now): the writer's write() and fsync() wait on the kernel and the
-- disk, which CPU time would not count.
--
--   native pair   the default: native store + native log writer.
--     1 client     one client actor calls N times in a row.
--     100 clients  100 client actors call at once, N in all; timed from
--                  the go to the last one done. How many sets the writer
--                  gathers into one write() (group commit) is a row too.
--     1 k vs 1 M   the store is filled to 1 M keys (100 clients; the fill
--                  rate is a row, each run inserting 1/RUNS of the keys),
--                  then sets over existing keys, spread over all of them,
--                  are timed as at 1 k keys; the ratio of the
--                  cost per set at 1 M keys to that at 1 k keys shows that a
--                  set's cost does not grow with the store (it includes the
--                  log's compactions, O(live data) once per that much log).
--   Lua pair      lua store + JSON writer, at small sizes: the JSON writer
--                  rewrites the whole data.json per batch of changes, O(n)
--                  bytes per flush by design (the reference format), so its
--                  sets slow down as the store grows; it encodes only the
--                  keys a batch changed.
--     1 client     the reference program's JSON store benchmark: one client
--                  sets 2000 new keys, one at a time, into an empty store;
--                  the keys deleted between runs, untimed; and the process's CPU time
--                  per set, which a core shared with other work does not
--                  inflate as it does the wall-clock rate.
local actor = require "actor"
local kv = require "actor.kv"

-- The settings, the names asked for and the table rows: bench/lib/common.lua.
local B = dofile((arg[0]:match("^(.*/)") or "./") .. "lib/common.lua")(
  "bench/store.lua", "native|lua")
local RUNS, scale, wanted, count = B.RUNS, B.scale, B.wanted, B.count
local row, rate_text, runs_text = B.row, B.rate_text, B.runs_text

local CLIENTS = 100
local SMALL = 1000 -- keys in the small store: 1 k at every scale
local VALUE1, VALUE2 = "value:0123456789", "VALUE:9876543210"

-- RUNS values of f(r), for r = 1 .. RUNS.
local function runs(f)
  local values = {}
  for r = 1, RUNS do values[r] = f(r) end
  return values
end

local function median(values)
  local v = table.move(values, 1, #values, 1, {})
  table.sort(v)
  return v[(#v + 1) // 2]
end

-- 1000 -> "1 k", 1000000 -> "1 M", 10000 -> "10 k"
local function size_text(n)
  if n >= 1e6 and n % 1e6 == 0 then return string.format("%d M", n // 1e6) end
  if n >= 1e3 and n % 1e3 == 0 then return string.format("%d k", n // 1e3) end
  return tostring(n)
end

local function fail(what)
  error("bench/store.lua: " .. what, 0)
end

-- The keys, made once: clients share them (one Lua state), so the timed
-- loops do no formatting.
local keys = {}
local function make_keys(n)
  for i = #keys, n - 1 do keys[i + 1] = string.format("key:%07d", i) end
end

-- A step through 0..n-1 that visits every one: coprime with n.
local function stride_for(n)
  local function gcd(a, b) while b ~= 0 do a, b = b, a % b end return a end
  local s = 7919
  while gcd(s, n) ~= 1 do s = s + 2 end
  return s
end

-- Requests i = first, first + step, ... below n: an insert of the key
-- base + i * stride % n (all n new keys, in a scattered order), a set of
-- the key base + i % span, or a get of it that must find one of the
-- values. The store then holds its entries in the order they were
-- inserted, and sets and gets, which go through the keys in order, reach
-- them all over its memory, as random keys would; while the client's own
-- reads of its keys table stay cheap, at 1 M keys too.
local function run_requests(op, first, step, n, base, span, value)
  local set, get = kv.set, kv.get
  if op == "insert" then
    local stride = stride_for(n)
    for i = first, n - 1, step do
      if set(keys[base + i * stride % n + 1], value) ~= true then
        fail("a set was not acknowledged")
      end
    end
  elseif op == "set" then
    for i = first, n - 1, step do
      if set(keys[base + i % span + 1], value) ~= true then
        fail("a set was not acknowledged")
      end
    end
  else
    for i = first, n - 1, step do
      local v = get(keys[base + i % span + 1])
      if v ~= VALUE1 and v ~= VALUE2 then fail("a get found " .. tostring(v)) end
    end
  end
end

local function client(root, ...)
  actor.send(root, "ready")
  actor.receive() -- go
  run_requests(...)
  actor.send(root, "done")
end

-- Waits for `left` messages named `what` from the clients; a client that
-- fails (its "down" from the monitor) stops the bench at once.
local function await(what, left)
  while left > 0 do
    local name, _, _, reason = actor.receive(120000)
    if name == what then
      left = left - 1
    elseif name ~= "down" then
      fail("waiting for '" .. what .. "', got " .. tostring(name))
    elseif reason ~= "normal" then
      fail("a client failed: " .. tostring(reason))
    end
  end
end

-- n requests from `clients` client actors at once; returns the seconds
-- from the go to the last one done, and the process's CPU seconds
-- meanwhile (os.clock: user and system time, the kernel's file work too).
local function run(op, clients, n, base, span, value)
  collectgarbage()
  local root = actor.self()
  local pids = {}
  for c = 1, clients do
    pids[c] = actor.spawn(client, root, op, c - 1, clients, n, base, span, value)
    actor.monitor(pids[c])
  end
  await("ready", clients)
  local t0, c0 = actor.now(), os.clock()
  for c = 1, clients do actor.send(pids[c], "go") end
  await("done", clients)
  return (actor.now() - t0) / 1000, os.clock() - c0
end

-- A fresh data directory: a name from os.tmpname, made by the writer.
local function temp_dir()
  local dir = os.tmpname()
  os.remove(dir)
  return dir
end

-- Removes dir when the Lua state closes: after the host has stopped every
-- actor, the store's writer included, so nothing writes there any more
-- (the JSON writer's fsync timer would find it gone). On failure too.
-- Held by package.loaded, which lives as long as the state.
local cleanups = {}
package.loaded["bench/store.lua: directories to remove"] = cleanups
local function remove_at_exit(dir)
  cleanups[#cleanups + 1] = setmetatable({}, { __gc = function()
    os.execute("rm -rf '" .. dir:gsub("'", "'\\''") .. "'")
  end })
end

-- Runs fn() with the store set up for the pair on a fresh directory.
local function with_store(settings, fn)
  local dir = temp_dir()
  remove_at_exit(dir)
  settings.data_dir, settings.fsync = dir, "everysec"
  actor.configure(settings)
  if kv.count() ~= 0 then fail("the data directory " .. dir .. " is not fresh") end
  fn()
end

-- ---------------------------------------------------------- native pair

local function bench_native()
  with_store({ store = "c", writer = "log" }, function()
    local big = math.max(count(1e6), 2 * SMALL)
    make_keys(big)
    run("insert", CLIENTS, SMALL, 0, 0, VALUE1) -- the small store: 1 k keys
    if kv.count() ~= SMALL then fail("the small store is not " .. SMALL .. " keys") end

    -- RUNS runs of n requests, as rates
    local function rates(n, ...)
      local args = table.pack(...)
      return runs(function() return n / run(table.unpack(args, 1, args.n)) end)
    end

    local n = count(2e5)
    local label = " (native pair, 1 client, " .. size_text(SMALL) .. " keys)"
    row("store sets" .. label, runs_text(rates(n, "set", 1, n, 0, SMALL, VALUE2), rate_text),
      "sets/s", "-")
    row("store gets" .. label, runs_text(rates(n, "get", 1, n, 0, SMALL), rate_text), "gets/s",
      "-")

    n = count(1e6)
    label = " (native pair, " .. CLIENTS .. " clients, " .. size_text(SMALL) .. " keys)"
    local per_write = {}
    local small_sets = runs(function(r)
      local st0 = actor.call("kv.writer", "stats")
      local rate = n / run("set", CLIENTS, n, 0, SMALL, r % 2 == 1 and VALUE1 or VALUE2)
      local st1 = actor.call("kv.writer", "stats")
      per_write[r] = (st1.records - st0.records) / math.max(1, st1.flushes - st0.flushes)
      return rate
    end)
    row("store sets" .. label, runs_text(small_sets, rate_text), "sets/s", "200 k")
    row("store group commit: sets per log write" .. label, runs_text(per_write, function(v)
      return string.format("%.1f", v)
    end), "sets/write", "-")
    row("store gets" .. label, runs_text(rates(n, "get", CLIENTS, n, 0, SMALL), rate_text),
      "gets/s", "500 k")

    -- Fill up to `big` keys with new ones, 1/RUNS of them per run, then
    -- sets over all of them.
    local fill = big - SMALL
    local fills = runs(function(r)
      local from, to = SMALL + fill * (r - 1) // RUNS, SMALL + fill * r // RUNS
      return (to - from) / run("insert", CLIENTS, to - from, from, 0, VALUE1)
    end)
    row("store inserts, filling to " .. size_text(big) .. " keys (native pair, " .. CLIENTS
      .. " clients; each run inserts 1/" .. RUNS .. " of them)", runs_text(fills, rate_text),
      "sets/s", "-")
    if kv.count() ~= big then fail("the big store is not " .. big .. " keys") end
    label = " (native pair, " .. CLIENTS .. " clients, " .. size_text(big) .. " keys)"
    local big_sets = rates(n, "set", CLIENTS, n, 0, big, VALUE2)
    local big_sets_median = median(big_sets)
    row("store sets" .. label, runs_text(big_sets, rate_text), "sets/s", "200 k")
    row("store gets" .. label, runs_text(rates(n, "get", CLIENTS, n, 0, big), rate_text),
      "gets/s", "500 k")
    row("store set cost at " .. size_text(big) .. " keys / at " .. size_text(SMALL)
      .. " keys (native pair, " .. CLIENTS .. " clients; of the medians)",
      string.format("%.2f", median(small_sets) / big_sets_median), "x",
      string.format("~1 (O(n) would be %d)", big // SMALL))
  end)
end

-- ------------------------------------------------------------- Lua pair

local function bench_lua()
  with_store({ store = "lua", writer = "json" }, function()
    local n = math.max(20, count(2000))
    make_keys(n)
    local rates, cpu = {}, {}
    for r = 1, RUNS do
      local secs, cpu_secs = run("insert", 1, n, 0, 0, VALUE1)
      rates[r], cpu[r] = n / secs, cpu_secs / n * 1e6
      for i = 1, n do kv.delete(keys[i]) end -- empty again
    end
    local label = ", 1 client, " .. size_text(n) .. " new keys one at a time (Lua pair: lua "
      .. "store + json writer, fsync everysec)"
    row("store sets" .. label, runs_text(rates, rate_text), "sets/s",
      "12 k (the reference program's JSON store)")
    -- what a set costs the core, whoever else wants it: on a shared core
    -- the wall-clock rate above is lower than 1e6 / this
    row("store CPU time per set" .. label, runs_text(cpu, function(us)
      return string.format("%.0f", us)
    end), "us", "83 (12 k sets/s on one core)")

    label = " (Lua pair: lua store + json writer, which rewrites the whole data.json "
      .. "per batch: O(n) bytes per flush by design; " .. CLIENTS .. " clients, "
    local size
    n, size = count(2e4), 0
    for _, want in ipairs { SMALL, math.max(count(1e4), 2 * SMALL) } do
      make_keys(want)
      run("insert", CLIENTS, want - size, size, 0, VALUE1)
      size = want
      local m = math.max(1, n * SMALL // size)
      row("store sets" .. label .. size_text(size) .. " keys)", runs_text(runs(function()
        return m / run("set", CLIENTS, m, 0, size, VALUE2)
      end), rate_text), "sets/s", "-")
    end
    n = count(2e5)
    row("store gets" .. label .. size_text(size) .. " keys)", runs_text(runs(function()
      return n / run("get", CLIENTS, n, 0, size)
    end), rate_text), "gets/s", "-")
  end)
end

-- ----------------------------------------------------------------- main

-- One store per host: when both pairs are wanted, the Lua pair runs in a
-- second troupe process (this binary, its options, this script), after the
-- native one.
if wanted("native") then bench_native() end
if wanted("lua") then
  if next(B.only) == nil and B.again() then
    local p = assert(io.popen(string.format("%s %s lua", B.again(), tostring(scale))))
    for line in p:lines() do print(line) end
    io.stdout:flush()
    if not p:close() then fail("the Lua pair's run failed") end
  else
    bench_lua()
  end
end
