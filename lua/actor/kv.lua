-- actor.kv: the key-value store, through the router. Works from any actor
-- (and from the main chunk of a REPL) with nothing passed around: the
-- router is registered as "router" and forwards to the store ("kv").
--
--   local kv = require "actor.kv"
--   kv.set("hello", "world")   --> true, once the writer has it
--   kv.get("hello")            --> "world"   (nil for a missing key)
--   kv.delete("hello")         --> true
--   kv.count(), kv.info()
--
-- Keys are strings of 1..65535 bytes, values strings of up to 16 MiB; any
-- bytes. A bad request, or a store that cannot write, raises an error.
local actor = require "actor"

local call = actor.call
local kv = {}

function kv.get(key) return call("router", "kv", "get", key) end
function kv.set(key, value) return call("router", "kv", "set", key, value) end
function kv.delete(key) return call("router", "kv", "delete", key) end
function kv.count() return call("router", "kv", "count") end
function kv.info() return call("router", "kv", "info") end

return kv
