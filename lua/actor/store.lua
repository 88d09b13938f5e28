-- actor.store: the store actor written in Lua, interchangeable with the
-- native one (services/store/store.c): the same messages, described in
-- include/troupe_services.h. It keeps the data in a Lua table, loads it
-- from the writer ("kv.writer") in batches before serving, answers reads
-- itself and passes
-- each change on to the writer, which answers the caller once it is
-- written. It refuses a set of a key its writer cannot write (its load said
-- "utf8", as the JSON writer does, and the key is not valid UTF-8) before
-- applying it: it never holds what was not written.
--
-- While it loads, requests wait in the mailbox; once the load has taken
-- load_wait_ms (2000 by default; the store's one option, for tests), each
-- is answered between batches with an error saying the store is still
-- loading, rather than left to time out. A writer that has no data to give
-- (its directory is in use by another writer, ...) says why, and every
-- request is answered with that.
local actor = require "actor"

local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024
local LOAD_WAIT_MS, REPORT_MS = 2000, 1000
local SEGMENT = 1 << 19

-- A bad request gets an error reply, and a send (nobody to answer) nothing.
local function refuse(why)
  if actor.calling() then actor.reply_error(why) end
end

local function bad_key(key)
  if type(key) ~= "string" then return "a key is a string" end
  if #key == 0 or #key > MAX_KEY then
    return "a key has 1 to " .. MAX_KEY .. " bytes"
  end
end

-- Why a writer that takes UTF-8 keys only cannot write key, or nil; the
-- key shown as the JSON writer shows it (quoted, cut short, every byte
-- that is not printable ASCII as \xHH).
local function not_utf8(key)
  if utf8.len(key) then return end
  local cut = #key > 40 and key:sub(1, 40) or key
  cut = cut:gsub('[%c"\\\128-\255]', function(c) return ("\\x%02x"):format(c:byte()) end)
  return 'kv: the key "' .. cut .. (#key > 40 and '..."' or '"')
    .. " is not valid UTF-8, and a JSON key is text (the log writer takes any bytes)"
end

-- The data, key -> value, in segments: tables of at most `cap` keys, new
-- keys going into the newest. One Lua table grows by rehashing every key
-- it holds at once, which for two million keys takes longer than the
-- supervisor's cutoff (500 ms): the store would be taken for stuck and
-- restarted, and again as it reloaded, for ever. A segment grows at the
-- cost of `cap` keys at most (about 0.1 s); a lookup costs one probe per
-- segment (one up to half a million keys).
local function segmented(cap)
  local segs, live = { {} }, { 0 }
  local d = { count = 0 }
  local function find(key)
    for i = #segs, 1, -1 do
      if segs[i][key] ~= nil then return i end
    end
  end
  function d.get(key)
    for i = #segs, 1, -1 do
      local v = segs[i][key]
      if v ~= nil then return v end
    end
  end
  -- A key not in the data (a load gives each key once).
  function d.add(key, value)
    local i = #segs
    if live[i] >= cap then
      i = i + 1
      segs[i], live[i] = {}, 0
    end
    segs[i][key], live[i] = value, live[i] + 1
    d.count = d.count + 1
  end
  function d.set(key, value)
    local i = find(key)
    if i then
      segs[i][key] = value
    else
      d.add(key, value)
    end
  end
  function d.delete(key)
    local i = find(key)
    if not i then return end
    segs[i][key], live[i] = nil, live[i] - 1
    d.count = d.count - 1
    if live[i] == 0 and #segs > 1 then -- an empty segment costs lookups
      table.remove(segs, i)
      table.remove(live, i)
    end
  end
  return d
end

return function(options)
  local load_wait = options and options.load_wait_ms or LOAD_WAIT_MS
  local writer = actor.whereis("kv.writer") or error("no kv.writer is running")
  local data = segmented(options and options.segment_keys or SEGMENT)
  local cursor, info, refused, unavailable, keys = 0
  local began = actor.now()
  local reported, impatient, progress = began, false, nil

  local function so_far()
    local count = data.count
    return count > 0 and count .. " keys so far"
      or "kv.writer is reading " .. (progress or "its files")
  end

  -- Past load_wait, what waits in the mailbox is answered: still loading.
  local function answer_waiting()
    local why = so_far()
    while true do
      local m = table.pack(actor.receive(0))
      if m.n == 0 then return end
      if m[1] == "failed" and actor.sender() == writer then
        refused = m[2]
      elseif actor.calling() then
        actor.reply_error("kv: the store is still loading (" .. why .. "); try again")
      end
    end
  end

  repeat -- requests wait in the mailbox meanwhile: call waits for its answer
    local entries, nxt, text, why, none, rule = actor.call(writer, "load", cursor)
    local n, add = #entries, data.add
    for i = 1, n, 2 do add(entries[i], entries[i + 1]) end
    cursor, info, refused, unavailable, keys = nxt, text, why, none, rule
    if cursor ~= nil then
      local now = actor.now()
      if n == 0 then progress = text end -- the writer is still reading
      if not impatient and now - began >= load_wait then
        impatient = true
        actor.log("warn", "kv: loading is taking long (" .. so_far() .. "): "
          .. "requests are answered with an error until it ends")
      elseif n > 0 and now - reported >= REPORT_MS then
        actor.log("info", "kv: loading: " .. data.count .. " keys so far")
        reported = now
      end
      if impatient then answer_waiting() end
    end
  until cursor == nil
  if actor.now() - began >= REPORT_MS then
    actor.log("info", ("kv: loaded %d keys in %.1f s"):format(data.count,
      (actor.now() - began) / 1000))
  end

  -- Passes the change being handled on to the writer, which answers the
  -- caller; false when the writer cannot take it (gone: said here, as the
  -- native store says it; full: the core tells the caller).
  local function pass_on()
    if not actor.alive(writer) then
      refuse("kv: the writer is not running; nothing was changed")
      return false
    end
    return actor.forward(writer) == true
  end

  local ops = {}
  function ops.get(key)
    local bad = bad_key(key)
    if bad then return refuse(bad) end
    return data.get(key)
  end
  function ops.set(key, value)
    local bad = bad_key(key)
    if not bad and type(value) ~= "string" then bad = "a value is a string" end
    if not bad and #value > MAX_VALUE then
      bad = "a value has at most " .. MAX_VALUE .. " bytes"
    end
    if not bad and keys == "utf8" then bad = not_utf8(key) end
    if bad then return refuse(bad) end
    if refused then return refuse("the store cannot write: " .. refused) end
    if not pass_on() then return end -- only what the writer took is applied
    data.set(key, value)
  end
  function ops.delete(key)
    local bad = bad_key(key)
    if bad then return refuse(bad) end
    if refused then return refuse("the store cannot write: " .. refused) end
    if data.get(key) == nil then return true end -- nothing to write down
    if not pass_on() then return end
    data.delete(key)
  end
  function ops.count() return data.count end
  function ops.info() return info end

  actor.serve{
    -- the writer's word that it takes no more changes: memory stays as it is
    failed = function(why) refused = why end,
    kv = function(op, ...)
      if unavailable then return refuse(unavailable) end
      local f = ops[op]
      if not f then return refuse("unknown request '" .. tostring(op) .. "'") end
      return f(...)
    end,
  }
end
