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
-- bytes. A bad argument, or a store that refuses or cannot write, raises an
-- error at the line that called kv.*, saying why.
local actor = require "actor"
local args = require "actor.args"

local call, whereis, configure = actor.call, actor.whereis, actor.configure
local check, argerror = args.check, args.error
local pcall, select, type = pcall, select, type
local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024
local kv = {}

-- Checks the key (argument 1 of fname, of count), blaming fname's caller.
local function check_key(fname, count, key)
  check(fname, 1, count, key, "string", 3)
  if #key < 1 or #key > MAX_KEY then
    argerror(fname, 1, ("a key of 1 to %d bytes expected, got %d bytes"):format(MAX_KEY, #key), 3)
  end
end

-- A failed request: the reason the store (or the router) gave, raised at
-- the line that called fname -- how the request travelled is not the
-- caller's business, unless the router itself is missing.
local FAILED = "call 'kv' to router failed: "
local function failed(fname, err)
  if type(err) == "string" then
    local at = err:find(FAILED, 1, true)
    if at then
      err = err:sub(at + #FAILED)
      if err == "timeout" then
        err = ("no answer within call_timeout (%d ms)"):format(configure().call_timeout)
      end
    elseif not whereis("router") then
      err = "no router is running (the store is reached through it)"
    else -- raised in this file: say it at the caller's line instead
      err = err:gsub("^[^\n]-kv%.lua:%d+: ", "", 1)
    end
    if err:sub(1, 3) ~= "kv:" then err = fname .. ": " .. err end
  end
  error(err, 3)
end

function kv.get(...)
  local key = ...
  check_key("kv.get", select("#", ...), key)
  local ok, value = pcall(call, "router", "kv", "get", key)
  if not ok then failed("kv.get", value) end
  return value
end

function kv.set(...)
  local key, value = ...
  local count = select("#", ...)
  check_key("kv.set", count, key)
  check("kv.set", 2, count, value, "string")
  if #value > MAX_VALUE then
    argerror("kv.set", 2, ("a value of at most %d bytes expected, got %d bytes"):format(
      MAX_VALUE, #value), 2)
  end
  local ok, done = pcall(call, "router", "kv", "set", key, value)
  if not ok then failed("kv.set", done) end
  return done
end

function kv.delete(...)
  local key = ...
  check_key("kv.delete", select("#", ...), key)
  local ok, done = pcall(call, "router", "kv", "delete", key)
  if not ok then failed("kv.delete", done) end
  return done
end

function kv.count()
  local ok, n = pcall(call, "router", "kv", "count")
  if not ok then failed("kv.count", n) end
  return n
end

function kv.info()
  local ok, text = pcall(call, "router", "kv", "info")
  if not ok then failed("kv.info", text) end
  return text
end

return kv
