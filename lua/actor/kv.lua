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

-- try(ms | nil, to, name, ...): a call that answers true and the reply,
-- or false and why it failed (no pcall on the way)
local try = require("actor.core")._try_call
local whereis, configure = actor.whereis, actor.configure
local now, sleep, self = actor.now, actor.sleep, actor.self
local check, argerror = args.check, args.error
local select, type, max = select, type, math.max
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

-- A failed request: why it failed (try's reason: the store's, the
-- router's or the core's), raised at the line that called fname -- how
-- the request travelled is not the caller's business, unless the router
-- itself is missing.
local function failed(fname, why)
  if not whereis("router") then
    why = "no router is running (the store is reached through it)"
  elseif why == "timeout" then
    why = ("no answer within call_timeout (%d ms)"):format(configure().call_timeout)
  end
  if why:sub(1, 3) ~= "kv:" then why = fname .. ": " .. why end
  error(why, 3)
end

-- After a failed request (try's reason `why`, the request begun at
-- `start`): asked again while the store is still loading (see above),
-- within call_timeout in all; returns the answer, or raises at the line
-- that called fname.
local LOADING = "kv: the store is still loading"
local function loading(why) return why:sub(1, #LOADING) == LOADING end
local function settle(fname, start, why, ...)
  if not loading(why) or not self() then failed(fname, why) end
  local limit, last = configure().call_timeout, why
  while now() - start + RETRY_MS + SLACK_MS < limit do
    sleep(RETRY_MS)
    local ok, res = try(max(1, limit - (now() - start)), "router", "kv", ...)
    if ok then return res end
    if res == "timeout" then break end -- after "still loading": the load is the news
    if not loading(res) then failed(fname, res) end
    last = res
  end
  failed(fname, last)
end

-- Each request checks its arguments only as far as it must to find them
-- good (the full check, with Lua's wording, runs on a bad one), then
-- calls: the path every request takes stays short.
local function bad_key(key)
  return type(key) ~= "string" or #key < 1 or #key > MAX_KEY
end

function kv.get(...)
  local key = ...
  if bad_key(key) then check_key("kv.get", select("#", ...), key) end
  local start = now()
  local ok, value = try(nil, "router", "kv", "get", key)
  if ok then return value end
  return settle("kv.get", start, value, "get", key)
end

function kv.set(...)
  local key, value = ...
  if bad_key(key) or type(value) ~= "string" or #value > MAX_VALUE then
    local count = select("#", ...)
    check_key("kv.set", count, key)
    check("kv.set", 2, count, value, "string")
    argerror("kv.set", 2, ("a value of at most %d bytes expected, got %d bytes"):format(
      MAX_VALUE, #value), 2)
  end
  local start = now()
  local ok, done = try(nil, "router", "kv", "set", key, value)
  if ok then return done end
  return settle("kv.set", start, done, "set", key, value)
end

function kv.delete(...)
  local key = ...
  if bad_key(key) then check_key("kv.delete", select("#", ...), key) end
  local start = now()
  local ok, done = try(nil, "router", "kv", "delete", key)
  if ok then return done end
  return settle("kv.delete", start, done, "delete", key)
end

function kv.count()
  local start = now()
  local ok, n = try(nil, "router", "kv", "count")
  if ok then return n end
  return settle("kv.count", start, n, "count")
end

function kv.info()
  local start = now()
  local ok, text = try(nil, "router", "kv", "info")
  if ok then return text end
  return settle("kv.info", start, text, "info")
end

return kv
