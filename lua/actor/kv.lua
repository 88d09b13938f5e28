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
-- bytes (under the JSON writer a key must be valid UTF-8). A bad argument,
-- or a store that refuses or cannot write, raises an error at the line
-- that called kv.*, saying why.
--
-- A store still loading a big data directory answers "kv: the store is
-- still loading (...); try again" (once its load has taken load_wait_ms,
-- troupe.h). From inside an actor such a request is asked again every
-- RETRY_MS (actor.sleep between tries), within call_timeout in all: the
-- caller gets its answer once the store has loaded, or the "still
-- loading" error if the load outlasts call_timeout; never a timeout
-- because of the load. Outside any actor (the main chunk of a plain lua
-- interpreter) there is no actor.sleep, and the error comes at once:
-- catch it and ask again.
local actor = require "actor"
local args = require "actor.args"

local call, call_timeout, whereis, configure = actor.call, actor.call_timeout,
  actor.whereis, actor.configure
local now, sleep, self = actor.now, actor.sleep, actor.self
local check, argerror = args.check, args.error
local pcall, select, type, max = pcall, select, type, math.max
local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024
local RETRY_MS = 100 -- between two tries while the store loads
local SLACK_MS = 500 -- asked again only if this much is left for it
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

-- A request through the router: true and its result, or false and the
-- error. Asked again while the store is still loading (see above).
local LOADING = "kv: the store is still loading"
local function request(...)
  local start = now()
  local ok, res = pcall(call, "router", "kv", ...)
  if ok or type(res) ~= "string" or not res:find(FAILED .. LOADING, 1, true) or not self() then
    return ok, res
  end
  local limit, loading = configure().call_timeout, res
  while now() - start + RETRY_MS + SLACK_MS < limit do
    sleep(RETRY_MS)
    ok, res = pcall(call_timeout, max(1, limit - (now() - start)), "router", "kv", ...)
    if ok or type(res) ~= "string" then return ok, res end
    if res:find(FAILED .. "timeout", 1, true) then break end -- it was loading: that is the news
    if not res:find(FAILED .. LOADING, 1, true) then return ok, res end
    loading = res
  end
  return false, loading
end

function kv.get(...)
  local key = ...
  check_key("kv.get", select("#", ...), key)
  local ok, value = request("get", key)
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
  local ok, done = request("set", key, value)
  if not ok then failed("kv.set", done) end
  return done
end

function kv.delete(...)
  local key = ...
  check_key("kv.delete", select("#", ...), key)
  local ok, done = request("delete", key)
  if not ok then failed("kv.delete", done) end
  return done
end

function kv.count()
  local ok, n = request("count")
  if not ok then failed("kv.count", n) end
  return n
end

function kv.info()
  local ok, text = request("info")
  if not ok then failed("kv.info", text) end
  return text
end

return kv
