-- actor.kv: the key-value store, through the router. Works from any actor
-- (and from the main chunk of a REPL) with nothing passed around: the
-- router is registered as "router" and forwards to the store ("kv").
--
--   local kv = require "actor.kv"
--   kv.set("hello", "world")   --> true, once the writer has it
--   kv.set("n", 41, { ex = 60 }) --> true; stored as "41", gone in a minute
--   kv.incr("n")               --> 42
--   kv.get("hello")            --> "world"   (nil for a missing key)
--   kv.delete("hello")         --> true (false: it was not there)
--   kv.mget("a", "b"), kv.mset{ a = "1", b = "2" }, kv.keys("user:*"),
--   kv.scan(cursor, pattern, count), kv.ttl("n"), kv.count(), kv.info()
--
-- Keys are strings of 1..65535 bytes, values strings of up to 16 MiB; any
-- bytes (under the JSON writer a key must be valid UTF-8). A number given
-- as a value is stored as its decimal text. A bad argument, or a store
-- that refuses or cannot write, raises an error at the line that called
-- kv.*, saying why. With actor.configure{store = "redis", redis = URL}
-- (troupe --store redis) the same requests are served from a Redis server,
-- and fail "kv: redis unavailable: ..." while it is down (README, "The
-- store in Redis"). The requests are include/troupe_services.h's; times
-- are seconds here (expire, ttl: floats, to the ms) and ms in the p*
-- forms (pexpire, pttl), as Redis has them.
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
local select, type, max, pack, unpack = select, type, math.max, table.pack, table.unpack
local tointeger, pairs, next, getinfo = math.tointeger, pairs, next, debug.getinfo
local SOURCE = getinfo(1, "S").source
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
  -- the first caller outside this file, however the request got here
  local level = 2
  while (getinfo(level, "S") or {}).source == SOURCE do level = level + 1 end
  error(why, level)
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
    local r = pack(try(max(1, limit - (now() - start)), "router", "kv", ...))
    if r[1] then return unpack(r, 2, r.n) end
    local res = r[2]
    if res == "timeout" then break end -- after "still loading": the load is the news
    if not loading(res) then failed(fname, res) end
    last = res
  end
  failed(fname, last)
end

-- The answer of a request (args: what was asked, packed) that try
-- answered `ok, ...`: its values, or settle's. Tail calls all the way, so
-- that an error's level still finds the line that called kv.*.
local function answered(fname, start, asked, ok, ...)
  if ok then return ... end
  return settle(fname, start, (...), unpack(asked, 1, asked.n))
end

-- Any request but the fast ones: kv(...) through the router.
local function ask(fname, ...)
  return answered(fname, now(), pack(...), try(nil, "router", "kv", ...))
end

-- Each request checks its arguments only as far as it must to find them
-- good (the full check, with Lua's wording, runs on a bad one), then
-- calls: the path get and set take stays short.
local function bad_key(key)
  return type(key) ~= "string" or #key < 1 or #key > MAX_KEY
end

-- Checks a value (argument n of fname, of count): a string of at most
-- MAX_VALUE bytes, or a number. Blames fname's caller.
local function check_value(fname, n, count, value)
  local t = type(value)
  if t == "number" then return end
  if t ~= "string" then
    argerror(fname, n, "string or number expected, got " .. (n > count and "no value" or t), 3)
  end
  if #value > MAX_VALUE then
    argerror(fname, n, ("a value of at most %d bytes expected, got %d bytes"):format(
      MAX_VALUE, #value), 3)
  end
end

-- Checks the keys from argument `first` on (at least one), blaming
-- fname's caller.
local function check_keys(fname, first, ...)
  local count = select("#", ...)
  if count < first then argerror(fname, first, "string expected, got no value", 3) end
  local keys = { ... } -- indexed: select(i, ...) each time is quadratic
  for i = first, count do
    local key = keys[i]
    if bad_key(key) then
      check(fname, i, count, key, "string", 3)
      argerror(fname, i, ("a key of 1 to %d bytes expected, got %d bytes"):format(MAX_KEY, #key), 3)
    end
  end
end

-- A key alone: kv.<name>(key), asked as the request `op`.
local function keyed(fname, op)
  return function(...)
    local key = ...
    if bad_key(key) then check_key(fname, select("#", ...), key) end
    return ask(fname, op, key)
  end
end

function kv.get(...)
  local key = ...
  if bad_key(key) then check_key("kv.get", select("#", ...), key) end
  local start = now()
  local ok, value = try(nil, "router", "kv", "get", key)
  if ok then return value end
  return settle("kv.get", start, value, "get", key)
end

-- kv.set(key, value[, opts]): opts {ex = s | px = ms, nx =, xx =,
-- keepttl =, get =}: true (false when nx/xx kept it from being set), or
-- with get the old value.
function kv.set(...)
  local key, value, opts = ...
  local count = select("#", ...)
  if bad_key(key) or (type(value) ~= "string" and type(value) ~= "number")
    or (type(value) == "string" and #value > MAX_VALUE) then
    check_key("kv.set", count, key)
    check_value("kv.set", 2, count, value)
  end
  if opts ~= nil then
    check("kv.set", 3, count, opts, "table")
    -- (an empty table travels as an empty array, which is no map)
    if next(opts) ~= nil then return ask("kv.set", "set", key, value, opts) end
  end
  local start = now()
  local ok, done = try(nil, "router", "kv", "set", key, value)
  if ok then return done end
  return settle("kv.set", start, done, "set", key, value)
end

kv.delete = keyed("kv.delete", "delete") -- true if the key was there
kv.getdel = keyed("kv.getdel", "getdel") -- its value (nil: none), and it is gone
kv.strlen = keyed("kv.strlen", "strlen") -- its value's length, 0 when missing
kv.pttl = keyed("kv.pttl", "ttl") -- ms left; -1 never expires, -2 missing
kv.persist = keyed("kv.persist", "persist") -- true if an expiry was removed

-- whether the key is there
function kv.exists(...)
  local key = ...
  if bad_key(key) then check_key("kv.exists", select("#", ...), key) end
  return ask("kv.exists", "exists", key) > 0
end

-- seconds left, to the ms; -1 when the key does not expire, -2 when missing
function kv.ttl(...)
  local key = ...
  if bad_key(key) then check_key("kv.ttl", select("#", ...), key) end
  local ms = ask("kv.ttl", "ttl", key)
  if ms < 0 then return ms end
  return ms / 1000
end

-- kv.incr(key[, by]): the new value, an integer (by: 1 when not given).
function kv.incr(...)
  local key, by = ...
  local count = select("#", ...)
  if bad_key(key) then check_key("kv.incr", count, key) end
  if by == nil then
    by = 1
  elseif not tointeger(by) then
    check("kv.incr", 2, count, by, "number", 2)
    argerror("kv.incr", 2, "number has no integer representation", 2)
  end
  return ask("kv.incr", "incr", key, tointeger(by))
end

-- kv.append(key, text): the value's new length.
function kv.append(...)
  local key, text = ...
  local count = select("#", ...)
  if bad_key(key) then check_key("kv.append", count, key) end
  if type(text) ~= "string" then check_value("kv.append", 2, count, text) end
  return ask("kv.append", "append", key, text)
end

-- kv.mget(k1, k2, ...) -> v1, v2, ... (nil for a missing key)
function kv.mget(...)
  check_keys("kv.mget", 1, ...)
  return ask("kv.mget", "mget", ...)
end

-- kv.mset{k = v, ...} or kv.mset(k1, v1, k2, v2, ...): true, all of them
-- set or none.
function kv.mset(...)
  local first, count = ..., select("#", ...)
  if count == 1 and type(first) == "table" then
    local flat, n = {}, 0
    for k, v in pairs(first) do
      if bad_key(k) then
        argerror("kv.mset", 1, "keys of 1 to " .. MAX_KEY .. " bytes expected, got "
          .. (type(k) == "string" and #k .. " bytes" or "a " .. type(k)), 2)
      end
      if type(v) ~= "number" and (type(v) ~= "string" or #v > MAX_VALUE) then
        argerror("kv.mset", 1, "values of strings of at most " .. MAX_VALUE
          .. " bytes or numbers expected, got " .. (type(v) == "string" and #v .. " bytes"
          or "a " .. type(v)), 2)
      end
      flat[n + 1], flat[n + 2], n = k, v, n + 2
    end
    if n == 0 then argerror("kv.mset", 1, "a table of at least one key expected", 2) end
    return ask("kv.mset", "mset", unpack(flat, 1, n))
  end
  if count == 0 or count % 2 == 1 then
    argerror("kv.mset", count + 1, count == 0 and "table or keys and values expected"
      or "a value expected after the last key", 2)
  end
  local pairs_of = { ... } -- indexed: select(i, ...) each time is quadratic
  for i = 1, count, 2 do
    local key, value = pairs_of[i], pairs_of[i + 1]
    if bad_key(key) then
      check("kv.mset", i, count, key, "string", 2)
      argerror("kv.mset", i, ("a key of 1 to %d bytes expected, got %d bytes"):format(
        MAX_KEY, #key), 2)
    end
    if type(value) ~= "string" then check_value("kv.mset", i + 1, count, value) end
  end
  return ask("kv.mset", "mset", ...)
end

-- kv.keys([pattern]): the keys matching the glob pattern (* ? [abc] [^a-c]
-- \x; "*" when not given), as an array.
function kv.keys(...)
  local pattern = ...
  if pattern == nil then pattern = "*" end
  check("kv.keys", 1, select("#", ...), pattern, "string", 2)
  return ask("kv.keys", "keys", pattern)
end

-- kv.scan(cursor[, pattern[, count]]) -> next, keys: cursor 0 starts, a
-- next of 0 ends. A key there for the whole scan comes exactly once.
function kv.scan(...)
  local cursor, pattern, want = ...
  local count = select("#", ...)
  if not tointeger(cursor) or cursor < 0 then
    check("kv.scan", 1, count, cursor, "number", 2)
    argerror("kv.scan", 1, "a cursor (an integer >= 0) expected", 2)
  end
  if pattern ~= nil then check("kv.scan", 2, count, pattern, "string", 2) end
  if want ~= nil and (not tointeger(want) or want < 1) then
    check("kv.scan", 3, count, want, "number", 2)
    argerror("kv.scan", 3, "a count (an integer >= 1) expected", 2)
  end
  return ask("kv.scan", "scan", tointeger(cursor), pattern, want and tointeger(want))
end

-- kv.pexpire(key, ms) / kv.expire(key, seconds): true if the key is there
-- (it expires then; <= 0 removes it), else false.
local function expire(fname, scale, ...)
  local key, t = ...
  local count = select("#", ...)
  if bad_key(key) then check_key(fname, count, key) end
  if type(t) ~= "number" or t ~= t then
    check(fname, 2, count, t, "number", 2)
    argerror(fname, 2, "a number expected, got nan", 2)
  end
  local ms = t * scale
  if ms >= 2 ^ 53 then argerror(fname, 2, "a time before the year 285000 expected", 2) end
  return ask(fname, "expire", key, ms > 0 and math.ceil(ms) or 0)
end
function kv.pexpire(...) return expire("kv.pexpire", 1, ...) end
function kv.expire(...) return expire("kv.expire", 1000, ...) end

function kv.flush() return ask("kv.flush", "flush") end -- true: every key removed
function kv.count() return ask("kv.count", "count") end
function kv.stats() return ask("kv.stats", "stats") end -- {keys=, expiring=, bytes=}
function kv.info() return ask("kv.info", "info") end

return kv
