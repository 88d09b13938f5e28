-- actor.store: the store actor written in Lua, interchangeable with the
-- native one (core/actors/store.c): the same messages, described in
-- core/troupe.h. It keeps the data in a Lua table, loads it from the writer
-- ("kv.writer") in batches before serving, answers reads itself and passes
-- each change on to the writer, which answers the caller once it is
-- written.
local actor = require "actor"

local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024

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

return function()
  local writer = actor.whereis("kv.writer") or error("no kv.writer is running")
  local data, count = {}, 0
  local cursor, info, refused = 0
  repeat -- requests wait in the mailbox meanwhile: call waits for its answer
    local entries, nxt, text, why = actor.call(writer, "load", cursor)
    for i = 1, #entries, 2 do
      if data[entries[i]] == nil then count = count + 1 end
      data[entries[i]] = entries[i + 1]
    end
    cursor, info, refused = nxt, text, why
  until cursor == nil

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
    return data[key]
  end
  function ops.set(key, value)
    local bad = bad_key(key)
    if not bad and type(value) ~= "string" then bad = "a value is a string" end
    if not bad and #value > MAX_VALUE then
      bad = "a value has at most " .. MAX_VALUE .. " bytes"
    end
    if bad then return refuse(bad) end
    if refused then return refuse("the store cannot write: " .. refused) end
    if not pass_on() then return end -- only what the writer took is applied
    if data[key] == nil then count = count + 1 end
    data[key] = value
  end
  function ops.delete(key)
    local bad = bad_key(key)
    if bad then return refuse(bad) end
    if refused then return refuse("the store cannot write: " .. refused) end
    if data[key] == nil then return true end -- nothing to write down
    if not pass_on() then return end
    count = count - 1
    data[key] = nil
  end
  function ops.count() return count end
  function ops.info() return info end

  actor.serve{
    -- the writer's word that it takes no more changes: memory stays as it is
    failed = function(why) refused = why end,
    kv = function(op, ...)
      local f = ops[op]
      if not f then return refuse("unknown request '" .. tostring(op) .. "'") end
      return f(...)
    end,
  }
end
