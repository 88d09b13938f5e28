-- actor.jsonwriter: the store's writer in Lua, interchangeable with the
-- native log writer: the same messages (include/troupe_services.h). It owns
-- <dir>/data.json in the reference format, an object of key -> array of
-- byte values ({"hello":[119,111,114,108,100]}), and replaces it
-- atomically on each batch of changes (actor.file.write_atomic).
--
-- Start (actor.jsonstart): the directory, its lock, data.json read back.
-- It never fails there: a directory or file it cannot write makes it
-- read-only (loads served, every change refused, naming why), and a
-- directory it cannot have (in use, cannot be made, data.json unreadable)
-- makes it unavailable (every request answered with why).
--
-- Changes (kv set/delete, forwarded by the store with the caller's
-- session): applied to its data and to the kept text of data.json
-- (actor.jsonfile: only the changed keys are encoded again), and the
-- caller remembered. Once nothing more is queued, or MAX_PENDING callers
-- wait, the file is written, with one write_atomic into the spare file
-- it keeps open, and they are all answered (group commit): a write costs
-- the changed keys' encoding plus writing the file's bytes, O(size of the
-- store) but no JSON work.
-- A key must be valid UTF-8 (JSON keys are text): its load replies say
-- so (keys "utf8", troupe.h), and the store refuses any other key itself,
-- before applying it. A set of one that reaches the writer all the same
-- (sent to it directly) is refused here too, and nobody else is told.
--
-- fsync policy, as the native writer's: always -- each write is fsynced,
-- and its directory, before it is answered; everysec -- a timer fsyncs the
-- file and its directory at most a second after a write, then writes and
-- fsyncs a copy, data.json.sync, which the start falls back on should a
-- power loss leave data.json cut short or empty; no -- the OS decides. A
-- failed write or fsync answers the changes waiting with an error and
-- refuses every later one (the store is told); loads go on. It never
-- retries a failed fsync as if it could have worked.
--
-- Ending (a reset, a kill, the host stopping): what it gathered is
-- written, fsynced as the policy says, and answered, from the close
-- handler below, which runs once the actor is detached from the host:
-- only calls that need no actor (reply_to, send, log) are made there.
-- Every change it has written is answered true; every one it has not,
-- with an error. It answers stats() -> {records, flushes, fsyncs,
-- compactions, log_bytes, keys} too (log_bytes: the size of data.json as
-- last written; compactions: 0).
local actor = require "actor"
local file = require "actor.file"
local jsondata = require "actor.jsondata"
local jsonfile = require "actor.jsonfile"
local jsonstart = require "actor.jsonstart"

local BATCH = 4096 -- entries per load reply
local MAX_PENDING = 1024 -- changes answered per write at the most
local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024
local SYNC_MS = 1000 -- everysec: how long a write may wait for its fsync

-- Long work for a big store shows life (actor.heartbeat) as it goes, or
-- the supervisor would take the writer for stuck past its cutoff. Not
-- while it ends (the close handler): it is no actor any more.
local function beat()
  if actor.self() then actor.heartbeat() end
end

return function(dir, fsync)
  dir = dir or "./troupe-data"
  local policy = fsync or "everysec"
  local always, everysec = policy == "always", policy == "everysec"
  local st = jsonstart.open(dir, { log = actor.log, beat = beat })
  -- <close>: released however this actor ends (after the last write,
  -- declared below), so that a restart can take it
  local lock <close> = st.lock -- luacheck: ignore 211
  -- the two files write_atomic keeps open between writes; closed after
  -- the last write, which is done in the close handler declared below
  local spare <close> = file.spare(st.path)
  local path, data, count, info = st.path, st.data, st.count, st.info
  local failed, unavailable = st.refused, st.unavailable
  local sync_path = path .. ".sync"

  local text = jsonfile.of(data, beat)

  -- Callers of the changes gathered, to answer: pending[2i-1] who,
  -- pending[2i] session, for head <= i <= npend. A batch's answers may be
  -- cut short (a preemption, then a kill): the close handler finishes
  -- them with the batch's result.
  local pending, npend, head = {}, 0, 1
  -- The change being applied (cur_key set last, cleared first): a kill
  -- while it is preempted half-way leaves it to the close handler.
  local cur_op, cur_key, cur_value, cur_who, cur_session
  local result_ok, result_why = true, nil
  local changes = 0 -- changes gathered since the last write
  local dirty, timer, closing = false, nil, false
  local stats = { records = 0, flushes = 0, fsyncs = 0, compactions = 0, log_bytes = 0 }
  local keys -- the load's snapshot of the keys, in a fixed order
  local loader -- who loaded last: told when writes fail

  local function answer()
    while head <= npend do
      local who, session = pending[2 * head - 1], pending[2 * head]
      if who and result_ok then
        actor.reply_to(who, session, true)
      elseif who then
        actor.reply_error_to(who, session, result_why)
      end
      pending[2 * head - 1], pending[2 * head] = nil, nil
      head = head + 1
    end
    head = 1 -- then npend: cut in between, the loop above finds nothing
    npend = 0
  end

  local function refuse(why)
    if failed then return end
    failed = why
    actor.log("error", "kv.writer: " .. why .. "; changes are refused from now on (reads go "
      .. "on); fix the cause and restart the store")
    if loader then actor.send(loader, "failed", why) end
  end

  -- everysec: data.json, then a copy of it, fsynced (for the start to
  -- fall back on, should a power loss leave data.json cut short or empty)
  local function sync_now()
    local ok, err = file.fsync(path)
    beat()
    dirty = false
    if not ok then return refuse("fsync failed: " .. tostring(err)) end
    stats.fsyncs = stats.fsyncs + 1
    ok, err = file.write_atomic(sync_path, text:pieces(), true)
    beat()
    if not ok then actor.log("warn", "kv.writer: no copy of the synced file: " .. tostring(err)) end
  end

  -- Writes what was gathered, and answers its callers.
  local function flush()
    if changes == 0 then return end
    if failed then -- gathered before a failed fsync: never written
      result_ok, result_why = false, "changes are refused since " .. failed
    else
      local ok, err = file.write_atomic(path, text:pieces(), always, spare)
      beat()
      if ok then
        result_ok, result_why = true, nil
        stats.records = stats.records + changes
        stats.flushes = stats.flushes + 1
        stats.log_bytes = text.bytes
        if always then
          stats.fsyncs = stats.fsyncs + 1
        elseif everysec then
          dirty = true
          if not timer and not closing then timer = actor.after(SYNC_MS, "sync") end
        end
      else
        result_ok, result_why = false, "write failed: " .. tostring(err)
        refuse(result_why)
      end
    end
    changes = 0
    answer()
  end

  -- Group commit: what is gathered goes out once nothing more is queued.
  local function settle()
    if changes > 0 and (actor.pending() == 0 or npend - head + 1 >= MAX_PENDING) then
      flush()
    end
  end

  -- A change cut short by the end (checked, its call taken, but applied
  -- half-way): it is applied again, the kept text made again from data,
  -- and its caller answered with the last batch.
  local function finish_change()
    local key = cur_key
    cur_key = nil
    if cur_op == "set" then data[key] = cur_value else data[key] = nil end
    text = jsonfile.of(data)
    changes = changes + 1
    if cur_who and pending[2 * npend] ~= cur_session then
      pending[2 * npend + 1], pending[2 * npend + 2] = cur_who, cur_session
      npend = npend + 1
    end
  end

  -- However this actor ends, what it gathered is written and answered
  -- first (closed before the lock, which was declared before it).
  local _ <close> = setmetatable({}, { __close = function()
    closing = true
    if cur_key ~= nil then finish_change() end
    flush()
    answer() -- a batch written (or refused) whose answers were cut short
    if dirty and not failed then sync_now() end
  end })

  actor.serve{
    load = function(cursor)
      loader = actor.sender()
      if unavailable then return {}, nil, unavailable, unavailable, unavailable, "utf8" end
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
        return entries, nil, info, failed, nil, "utf8"
      end
      return entries, last, info, failed, nil, "utf8"
    end,
    kv = function(op, key, value)
      local bad
      if unavailable then
        bad = unavailable
      elseif failed then
        bad = "changes are refused since " .. failed
      elseif op ~= "set" and op ~= "delete" then
        bad = "kv.writer: the writer takes set and delete, not " .. tostring(op)
      elseif type(key) ~= "string" or #key == 0 or #key > MAX_KEY then
        bad = "kv.writer: a key is a string of 1 to " .. MAX_KEY .. " bytes"
      elseif op == "set" and (type(value) ~= "string" or #value > MAX_VALUE) then
        bad = "kv.writer: a value is a string of at most " .. MAX_VALUE .. " bytes"
      elseif op == "set" then
        -- the store checks first (the load said "utf8"): only a set sent
        -- here directly is refused here
        bad = jsondata.bad_key(key)
        if bad then bad = "kv.writer: " .. bad .. " (the log writer takes any bytes)" end
      end
      if bad then
        if actor.calling() then actor.reply_error(bad) end
        return settle()
      end
      if op == "delete" and data[key] == nil and not actor.calling() then
        return settle() -- nothing to write down, nobody to answer
      end
      local who, session
      if actor.calling() then who, session = actor.defer() end
      cur_op, cur_value, cur_who, cur_session = op, value, who, session
      cur_key = key
      local entry = op == "set" and jsonfile.entry(key, value, beat) -- the long part
      if op == "set" then
        if data[key] == nil then count = count + 1 end
        data[key] = value
        text:put(key, entry)
      elseif data[key] ~= nil then
        count = count - 1
        data[key] = nil
        text:remove(key)
      end
      changes = changes + 1
      if who then
        pending[2 * npend + 1], pending[2 * npend + 2] = who, session
        npend = npend + 1
      end
      cur_key = nil
      settle()
    end,
    sync = function()
      timer = nil
      if dirty and not failed then sync_now() end
      settle()
    end,
    stats = function()
      settle()
      return { records = stats.records, flushes = stats.flushes, fsyncs = stats.fsyncs,
        compactions = stats.compactions, log_bytes = stats.log_bytes, keys = count }
    end,
  }
end
