-- bench/store_memory.lua -- what the native store costs in memory: the
-- whole process's peak RSS (VmHWM in /proc/self/status) over the bytes of
-- data it holds, when the data is written and when it is loaded back at a
-- restart; run by the troupe binary:
--
--   build/troupe --threads 1 bench/store_memory.lua [scale [size...]]
--     scale  multiplies the data (default 1: about 240 MB; 0.01 for a
--            quick smoke run)
--     size   run only these value sizes: 1m, 64k (default: both)
--
-- Prints one markdown table row per measurement, under the header that
-- scripts/bench prints: | benchmark | result | unit | target |. Each is
-- measured once, in a fresh troupe process (a peak is the process's whole
-- life): this script runs itself again per row, with its mode, value size
-- and data directory after the size. The data is written with kv.set
-- through the router (native store + log writer, fsync "everysec") as
-- keys "key:0000042" and values of one size; then another process loads
-- the same directory (the store's load at start) and reads one key. Two
-- rows each: peak RSS / data bytes (keys and values), whose target is
-- under 1.3 for large values (the store holds the data once; its
-- writer keeps only where each value is on disk), and the peak in MiB.
local actor = require "actor"
local kv = require "actor.kv"

local B = dofile((arg[0]:match("^(.*/)") or "./") .. "lib/common.lua")(
  "bench/store_memory.lua", "1m|64k")
local scale, row = B.scale, B.row

local DATA = 240 * 1024 * 1024
local SIZES = { { name = "1m", bytes = 1024 * 1024, label = "1 MiB" },
  { name = "64k", bytes = 64 * 1024, label = "64 KiB" } }

local function fail(what)
  error("bench/store_memory.lua: " .. what, 0)
end

local function peak_kib()
  local f = assert(io.open("/proc/self/status"))
  local text = f:read("a")
  f:close()
  return tonumber(text:match("VmHWM:%s*(%d+)")) or fail("no VmHWM in /proc/self/status")
end

local function key(i) return string.format("key:%07d", i) end

-- One measurement in this process: write (or load) n values of `bytes`.
local function measure(mode, size, n, dir)
  actor.configure({ store = "c", writer = "log", data_dir = dir, fsync = "everysec" })
  local data = n * (#key(0) + size.bytes)
  local what
  if mode == "write" then
    if kv.count() ~= 0 then fail("the data directory " .. dir .. " is not fresh") end
    local value = string.rep("v", size.bytes)
    for i = 0, n - 1 do
      if kv.set(key(i), value) ~= true then fail("a set was not acknowledged") end
    end
    what = "written"
  else
    if kv.count() ~= n then fail("the load found " .. tostring(kv.count()) .. " keys") end
    if #kv.get(key(n - 1)) ~= size.bytes then fail("a value came back wrong") end
    what = "loaded at a restart"
  end
  local peak = peak_kib() * 1024
  local label = string.format("native pair, %d x %s values, %.0f MiB, %s", n, size.label,
    data / 2 ^ 20, what)
  row("store peak RSS / data (" .. label .. ")", string.format("%.2f", peak / data), "x", "< 1.3")
  row("store peak RSS (" .. label .. ")", string.format("%.0f", peak / 2 ^ 20), "MiB", "-")
end

local mode, which, dir = arg[2], arg[3], arg[4]
if mode == "write" or mode == "load" then
  for _, size in ipairs(SIZES) do
    if size.name == which then
      measure(mode, size, math.max(2, math.floor(DATA * scale / size.bytes)), dir)
    end
  end
  return
end

-- The driver: per size, a process that writes, then one that loads.
local again = B.again() or fail("run it with the troupe binary")
for _, size in ipairs(SIZES) do
  if B.wanted(size.name) then
    local d = os.tmpname()
    os.remove(d)
    for _, m in ipairs { "write", "load" } do
      local p = assert(io.popen(string.format("%s %s %s %s '%s'", again, tostring(scale), m,
        size.name, d)))
      for line in p:lines() do print(line) end
      io.stdout:flush()
      if not p:close() then
        os.execute("rm -rf '" .. d .. "'")
        fail("the " .. m .. " run failed")
      end
    end
    os.execute("rm -rf '" .. d .. "'")
  end
end
