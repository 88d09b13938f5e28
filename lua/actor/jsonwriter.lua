-- actor.jsonwriter: the store's writer in Lua, interchangeable with the
-- native log writer: the same messages (core/troupe.h). It owns
-- <dir>/data.json in the reference format, an object of key -> array of
-- byte values ({"hello":[119,111,114,108,100]}), read and written with
-- lua-cjson and replaced atomically (actor.file.write_atomic). A missing,
-- empty or unreadable file starts an empty store and says so; a bad file is
-- kept aside, never overwritten.
--
-- Each write rewrites the whole file, which is what the format allows:
-- changes queued together are written once (group commit), but a write
-- costs O(size of the store). The native writer's append-only log is the
-- fast path.
local actor = require "actor"
local file = require "actor.file"
local cjson = require "cjson"

local BATCH = 4096 -- entries per load reply
local MAX_PENDING = 1024 -- changes answered per write at the most

-- A string as the JSON array of its byte values ("[119,111]"), built in
-- slices since string.byte takes its results on the C stack. Debian's
-- lua-cjson (2.1) writes an empty table as {}, so arrays are joined here
-- and cjson escapes the keys.
local function json_bytes(s)
  local parts = {}
  for i = 1, #s, 4096 do
    parts[#parts + 1] = table.concat({ s:byte(i, math.min(i + 4095, #s)) }, ",")
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function from_bytes(t)
  local parts = {}
  for i = 1, #t, 4096 do
    parts[#parts + 1] = string.char(table.unpack(t, i, math.min(i + 4095, #t)))
  end
  return table.concat(parts)
end

-- The decoded file as key -> string, or nil and what is wrong with it.
local function check(obj)
  if type(obj) ~= "table" then return nil, "not a JSON object" end
  local data, n = {}, 0
  for k, v in pairs(obj) do
    if type(k) ~= "string" then return nil, "a key is not a string" end
    if type(v) ~= "table" then return nil, "the value of '" .. k .. "' is not an array" end
    for i = 1, #v do
      local b = v[i]
      if type(b) ~= "number" or b < 0 or b > 255 or b % 1 ~= 0 then
        return nil, "the value of '" .. k .. "' holds something other than bytes"
      end
    end
    local ok, s = pcall(from_bytes, v)
    if not ok then return nil, s end
    data[k] = s
    n = n + 1
  end
  return data, n
end

local function encode(data)
  local out = {}
  for k, v in pairs(data) do
    out[#out + 1] = cjson.encode(k) .. ":" .. json_bytes(v)
  end
  return "{" .. table.concat(out, ",") .. "}"
end

return function(dir, fsync)
  dir = dir or "./troupe-data"
  local sync = fsync == "always"
  assert(file.mkdir(dir))
  -- <close>: released however this actor ends, so a restart can take it
  local lock <close> = assert(file.lock(dir)) -- luacheck: ignore 211
  local path = dir .. "/data.json"
  os.remove(path .. ".tmp") -- left over from a crash: never the real data

  local data, count, info = {}, 0
  local f = io.open(path, "rb")
  if not f then
    info = "no " .. path .. " yet: starting empty"
  else
    local text = f:read("a")
    f:close()
    local ok, obj = pcall(cjson.decode, text)
    local why
    if text:match("^%s*$") then
      why = "it is empty"
    elseif not ok then
      why = "it is not valid JSON (" .. tostring(obj) .. ")"
    else
      data, count = check(obj)
      if not data then why = count end
    end
    if why then
      local aside = path .. ".bad-" .. os.time()
      os.rename(path, aside)
      data = {}
      info = path .. " cannot be read: " .. why .. "; kept aside as " .. aside .. "; starting empty"
      actor.log("error", info)
    else
      info = "loaded " .. count .. " keys from " .. path
    end
  end
  actor.log("info", info)

  local pending, failed = {}, nil
  local keys -- the load's snapshot of the keys, in a fixed order
  local loader -- who loaded last: told when writes fail

  local function flush()
    local ok, err = file.write_atomic(path, encode(data), sync)
    if not ok and not failed then
      failed = err
      actor.log("error", "kv.writer: " .. err .. "; refusing changes from now on")
      if loader then actor.send(loader, "failed", err) end
    end
    for i = 1, #pending do
      local who, session = pending[i][1], pending[i][2]
      if ok then
        actor.reply_to(who, session, true)
      else
        actor.reply_error_to(who, session, "write failed: " .. failed)
      end
      pending[i] = nil
    end
  end

  actor.serve{
    load = function(cursor)
      loader = actor.sender()
      if cursor == 0 or not keys then
        keys = {}
        for k in pairs(data) do keys[#keys + 1] = k end
      end
      local entries, last = {}, math.min(cursor + BATCH, #keys)
      for i = cursor + 1, last do
        entries[#entries + 1] = keys[i]
        entries[#entries + 1] = data[keys[i]]
      end
      if last >= #keys then
        keys = nil
        return entries, nil, info, failed
      end
      return entries, last, info, failed
    end,
    kv = function(op, key, value)
      if failed then return actor.reply_error("the store cannot write: " .. failed) end
      if type(key) ~= "string" then return actor.reply_error("a key is a string") end
      if op == "set" then
        data[key] = value
      elseif op == "delete" then
        data[key] = nil
      else
        return actor.reply_error("the writer takes set and delete, not " .. tostring(op))
      end
      pending[#pending + 1] = { actor.defer() }
      if actor.pending() == 0 or #pending >= MAX_PENDING then flush() end
    end,
  }
end
