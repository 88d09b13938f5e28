-- store.lua: the reference behaviour, end to end.
--
--   ./scripts/run examples/store.lua        (or: troupe examples/store.lua)
--
-- The store is two actors behind the router: "kv", which serves requests
-- from memory, and "kv.writer", which owns the data directory and writes
-- every change down before it is acknowledged. A supervisor restarts them
-- together. This script sets a key, reads it twice, forces a restart of the
-- store (as a crash would), reads the key again -- it survives, reloaded
-- from disk -- and sets another key. Run it twice: the second run finds
-- what the first one wrote.
local actor = require "actor"
local kv = require "actor.kv"

local settings = actor.configure()
print(("The store keeps its data in %s (store: %s, writer: %s, fsync: %s)."):format(
  settings.data_dir, settings.store, settings.writer, settings.fsync))

local runs = tonumber(kv.get("demo:runs") or "0")
print("At start it " .. kv.info() .. ".")
if runs > 0 then
  print(("This is run %d: the previous run left hello = %q and %d keys in all."):format(
    runs + 1, kv.get("hello") or "(nothing)", kv.count()))
else
  print("This is the first run: the store is empty.")
end

kv.set("hello", "world")
print("set hello = world        (acknowledged once the writer has it)")
print("get hello -> " .. kv.get("hello"))
print("get hello -> " .. kv.get("hello") .. "   (again: served from memory)")

local old = actor.whereis("kv")
actor.reset("kv")
print(("reset kv                 (the store %s and its writer were stopped and started again: %s)")
  :format(tostring(old), "now " .. tostring(actor.whereis("kv"))))
print("After the restart the new store " .. kv.info() .. ".")
print("get hello -> " .. kv.get("hello") .. "   (it survived the reset)")

kv.set("hello:soon", "gone in a minute", { ex = 60 })
print(("set hello:soon with ex=60 -> ttl %.0f s     (an expiry survives a restart too)")
  :format(kv.ttl("hello:soon")))

print(("incr demo:runs -> %d        (run the demo again: it finds this)"):format(
  kv.incr("demo:runs")))
