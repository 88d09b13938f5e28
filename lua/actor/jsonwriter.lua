-- actor.jsonwriter: the store's writer in Lua, interchangeable with the
-- native log writer: the same messages (core/troupe.h). It owns
-- <dir>/data.json in the reference format, an object of key -> array of
-- byte values ({"hello":[119,111,114,108,100]}), read and written with
-- lua-cjson and replaced atomically (actor.file.write_atomic). A missing,
-- empty or unreadable file starts an empty store and says so; a bad file is
-- kept aside, never overwritten (if it cannot be moved aside, changes are
-- refused). fsync policy as the native writer's: always -- each write is
-- fsynced before it is answered; everysec -- a timer fsyncs the file (and
-- its directory) at most a second after a write; no -- the OS decides.
-- Ending (a restart, a kill, the host stopping), it writes and answers
-- what it had gathered, as the native writer does. It answers
-- stats() -> {records, flushes, fsyncs, compactions, log_bytes, keys} too
-- (log_bytes: the size of data.json as last written; compactions: 0).
--
-- Each write rewrites the whole file, which is what the format allows:
-- changes queued together are written once (group commit), but a write
-- costs O(size of the store). The native writer's append-only log is the
-- fast path.
local actor = require "actor"
local file = require "actor.file"
local cjson = require "cjson"
local jsondata = require "actor.jsondata"

local BATCH = 4096 -- entries per load reply
local MAX_PENDING = 1024 -- changes answered per write at the most
local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024
local SYNC_MS = 1000 -- everysec: how long a write may wait for its fsync

-- Long work for a big store shows life (actor.heartbeat) as it goes, or
-- the supervisor would take the writer for stuck past its cutoff. Not
-- while it ends (the last write, in __close): it is no actor any more.
local function beat()
  if actor.self() then actor.heartbeat() end
end

-- A string as the JSON array of its byte values ("[119,111]"), built in
-- slices since string.byte takes its results on the C stack. Debian's
-- lua-cjson (2.1) writes an empty table as {}, so arrays are joined here
-- and cjson escapes the keys.
local function json_bytes(s)
  local parts = {}
  for i = 1, #s, 4096 do
    parts[#parts + 1] = table.concat({ s:byte(i, math.min(i + 4095, #s)) }, ",")
    if #parts % 16 == 0 then beat() end
  end
  return "[" .. table.concat(parts, ",") .. "]"
end

local function encode(data)
  local out = {}
  for k, v in pairs(data) do
    out[#out + 1] = cjson.encode(k) .. ":" .. json_bytes(v)
    if #out % 1024 == 0 then beat() end
  end
  return "{" .. table.concat(out, ",") .. "}"
end

return function(dir, fsync)
  dir = dir or "./troupe-data"
  local policy = fsync or "everysec"
  local always = policy == "always"
  assert(file.mkdir(dir))
  -- <close>: released however this actor ends, so a restart can take it
  local lock <close> = assert(file.lock(dir)) -- luacheck: ignore 211
  local path = dir .. "/data.json"
  os.remove(path .. ".tmp") -- left over from a crash: never the real data

  local data, count = {}, 0
  local info, failed
  local f = io.open(path, "rb")
  if not f then
    info = "no " .. path .. " yet: starting empty"
  else
    local text = f:read("a")
    f:close()
    local why
    beat()
    data, count = jsondata.parse(text, beat)
    if not data then why = count end
    if why then
      -- a name not taken yet: an older bad file stays as it was
      local aside, n = path .. ".bad-" .. os.time(), 0
      local taken = io.open(aside, "rb")
      while taken do
        taken:close()
        n = n + 1
        aside = path .. ".bad-" .. os.time() .. "-" .. n
        taken = io.open(aside, "rb")
      end
      data, count = {}, 0
      local moved, err = os.rename(path, aside)
      if moved then
        info = path .. " cannot be read: " .. why .. "; kept aside as " .. aside ..
          "; starting empty"
      else
        failed = "cannot keep the bad " .. path .. " aside (" .. tostring(err) .. ")"
        info = path .. " cannot be read: " .. why .. "; " .. failed ..
          ": starting empty, refusing changes"
      end
      actor.log("error", info)
    else
      info = "loaded " .. count .. (count == 1 and " key" or " keys") .. " from " .. path
    end
  end
  actor.log("info", info)

  local pending = {} -- {caller, session} of the changes gathered, to answer
  local changes = 0 -- changes gathered since the last write
  local dirty, timer = false, nil -- everysec: written, not yet fsynced
  local stats = { records = 0, flushes = 0, fsyncs = 0, compactions = 0, log_bytes = 0 }
  local keys -- the load's snapshot of the keys, in a fixed order
  local loader -- who loaded last: told when writes fail

  local function refuse(why)
    if failed then return end
    failed = why
    actor.log("error", "kv.writer: " .. why .. "; refusing changes from now on")
    if loader then actor.send(loader, "failed", why) end
  end

  local function flush()
    local text = encode(data)
    local ok, err = file.write_atomic(path, text, always)
    beat()
    if ok then
      stats.records = stats.records + changes
      stats.flushes = stats.flushes + 1
      stats.log_bytes = #text
      if always then
        stats.fsyncs = stats.fsyncs + 1
      elseif policy == "everysec" then
        dirty = true
        if not timer then timer = actor.after(SYNC_MS, "sync") end
      end
    else
      refuse(tostring(err))
    end
    for i = 1, #pending do
      local who, session = pending[i][1], pending[i][2]
      if ok then
        actor.reply_to(who, session, true)
      else
        actor.reply_error_to(who, session, "write failed: " .. tostring(err))
      end
      pending[i] = nil
    end
    changes = 0
  end

  local function fsync_now()
    dirty = false
    local ok, err = file.fsync(path)
    beat()
    if ok then
      stats.fsyncs = stats.fsyncs + 1
    else
      refuse("fsync failed: " .. tostring(err))
    end
  end

  -- Group commit: what is gathered goes out once nothing more is queued.
  local function settle()
    if changes > 0 and (actor.pending() == 0 or #pending >= MAX_PENDING) then flush() end
  end

  -- However this actor ends, what it gathered is written and answered
  -- first (closed before the lock, which was declared before it).
  local _ <close> = setmetatable({}, { __close = function()
    if changes > 0 and not failed then flush() end
    if dirty and not failed then fsync_now() end
  end })

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
      settle()
      if last >= #keys then
        keys = nil
        return entries, nil, info, failed
      end
      return entries, last, info, failed
    end,
    kv = function(op, key, value)
      local bad
      if failed then
        bad = "the store cannot write: " .. failed
      elseif op ~= "set" and op ~= "delete" then
        bad = "the writer takes set and delete, not " .. tostring(op)
      elseif type(key) ~= "string" or #key == 0 or #key > MAX_KEY then
        bad = "kv.writer: a key is a string of 1 to " .. MAX_KEY .. " bytes"
      elseif op == "set" and (type(value) ~= "string" or #value > MAX_VALUE) then
        bad = "kv.writer: a value is a string of at most " .. MAX_VALUE .. " bytes"
      end
      if bad then
        if actor.calling() then actor.reply_error(bad) end
        return settle()
      end
      if op == "set" then
        if data[key] == nil then count = count + 1 end
        data[key] = value
      elseif data[key] ~= nil then
        count = count - 1
        data[key] = nil
      end
      changes = changes + 1
      if actor.calling() then pending[#pending + 1] = { actor.defer() } end
      settle()
    end,
    sync = function()
      timer = nil
      if dirty and not failed then fsync_now() end
      settle()
    end,
    stats = function()
      settle()
      return { records = stats.records, flushes = stats.flushes, fsyncs = stats.fsyncs,
        compactions = stats.compactions, log_bytes = stats.log_bytes, keys = count }
    end,
  }
end
