-- actor.jsonwriter: the store's writer in Lua, interchangeable with the
-- native log writer: the same messages (include/troupe_services.h). It owns
-- <dir>/data.json in the reference format, an object of key -> array of
-- byte values ({"hello":[119,111,114,108,100]}), and replaces it
-- atomically on each batch of changes (actor.file.write_atomic). A key
-- that expires is written as an object instead, its time in ms since the
-- Unix epoch:
--
--   {"hello":[119,111,114,108,100],"temp":{"value":[104,105],"expires":1796077402692}}
--
-- Keys whose time has passed are left out when it loads and when it
-- writes (the store forgets them by itself: nobody tells the writer).
--
-- Start (actor.jsonstart): the directory, its lock, data.json read back.
-- It never fails there: a directory or file it cannot write makes it
-- read-only (loads served, every change refused, naming why), and a
-- directory it cannot have (in use, cannot be made, data.json unreadable)
-- makes it unavailable (every request answered with why).
--
-- Changes (set, delete, expire, mset, flush, forwarded by the store with
-- the caller's session as messages of those names, or as kv(op, ...), each
-- with the answer the caller gets: true unless given): applied to its data
-- and to the kept text of data.json
-- (actor.jsonfile: only the changed keys are encoded again), and the
-- caller remembered. Once nothing more is queued, or MAX_PENDING callers
-- wait, the file is written, with one write_atomic into the spare file
-- it keeps open, and they are all answered (group commit): a write costs
-- the changed keys' encoding plus writing the file's bytes, O(size of the
-- store) but no JSON work. A spare that holds a version on disk (the one
-- fsynced last, or the one the start found) is dropped, not written again
-- in place: a power loss there could leave data.json part old, part new.
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
  local st = jsonstart.open(dir, { log = actor.log, beat = beat, now = actor.time() })
  -- <close>: released however this actor ends (after the last write,
  -- declared below), so that a restart can take it
  local lock <close> = st.lock -- luacheck: ignore 211
  -- the two files write_atomic keeps open between writes; closed after
  -- the last write, which is done in the close handler declared below
  local spare <close> = file.spare(st.path)
  local path, data, exps, count, info = st.path, st.data, st.exps, st.count, st.info
  local failed, unavailable = st.refused, st.unavailable
  local sync_path = path .. ".sync"
  local nexp = 0 -- keys in exps
  for _ in pairs(exps) do nexp = nexp + 1 end

  local text = jsonfile.of(data, beat, exps)

  -- Callers of the changes gathered, to answer: pending[3i-2] who,
  -- pending[3i-1] session, pending[3i] the answer, for head <= i <= npend.
  -- A batch's answers may be cut short (a preemption, then a kill): the
  -- close handler finishes them with the batch's result.
  local pending, npend, head = {}, 0, 1
  -- The change being applied (cur_op set last, cleared first): a kill
  -- while it is preempted half-way leaves it to the close handler.
  local cur_op, cur_key, cur_value, cur_at, cur_list, cur_who, cur_session, cur_answer
  local result_ok, result_why = true, nil
  local changes = 0 -- changes gathered since the last write
  local dirty, timer, closing = false, nil, false
  -- data.json is on disk (fsynced, or as the start found it): the next
  -- write's exchange makes it the spare, which is then dropped
  local durable = true
  local stats = { records = 0, flushes = 0, fsyncs = 0, compactions = 0, log_bytes = 0 }
  local keys -- the load's snapshot of the keys, in a fixed order
  local loader -- who loaded last: told when writes fail

  local function answer()
    while head <= npend do
      local who, session = pending[3 * head - 2], pending[3 * head - 1]
      if who and result_ok then
        actor.reply_to(who, session, pending[3 * head])
      elseif who then
        actor.reply_error_to(who, session, result_why)
      end
      pending[3 * head - 2], pending[3 * head - 1], pending[3 * head] = nil, nil, nil
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
    durable = true
    ok, err = file.write_atomic(sync_path, text:pieces(), true)
    beat()
    if not ok then actor.log("warn", "kv.writer: no copy of the synced file: " .. tostring(err)) end
  end

  -- Keys in data.json whose time has passed are left out of it; a pass
  -- over the expiring keys only once the soonest time may have come.
  local soonest = 0 -- no key expires before this (0: not known yet)
  local function purge()
    local now = actor.time()
    if nexp == 0 or now < soonest then return end
    soonest = math.huge
    for k, at in pairs(exps) do
      if at <= now then
        exps[k], data[k] = nil, nil
        nexp, count = nexp - 1, count - 1
        text:remove(k)
      elseif at < soonest then
        soonest = at
      end
    end
  end

  -- Writes what was gathered, and answers its callers.
  local function flush()
    if changes == 0 then return end
    if failed then -- gathered before a failed fsync: never written
      result_ok, result_why = false, "changes are refused since " .. failed
    else
      purge()
      local ok, err = file.write_atomic(path, text:pieces(), always, spare)
      beat()
      if ok and durable and not always then
        -- The spare now holds a version that is on disk. Emptied and
        -- written again in place without an fsync, a power loss could
        -- leave its exchange done and its blocks part old, part new: a
        -- valid data.json that no history explains, or an old version
        -- taken for the new. A new file instead: torn, it is empty or
        -- cut short, which the start tells (and loads data.json.sync).
        spare:empty()
      end
      durable = always
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

  -- The data's side of a change, which may be done twice: put(key,
  -- value, at) and drop(key) also change the kept text (text.put, whose
  -- entry's encoding is the long part), unless data_only.
  local function put(key, value, at, data_only)
    if data[key] == nil then count = count + 1 end
    data[key] = value
    local old = exps[key]
    if old and at == 0 then nexp = nexp - 1 elseif not old and at > 0 then nexp = nexp + 1 end
    exps[key] = at > 0 and at or nil
    if at > 0 and at < soonest then soonest = at end
    if not data_only then text:put(key, jsonfile.entry(key, value, beat, at)) end
  end
  local function drop(key, data_only)
    if data[key] == nil then return end
    count = count - 1
    data[key] = nil
    if exps[key] then exps[key], nexp = nil, nexp - 1 end
    if not data_only then text:remove(key) end
  end
  -- op with its first three arguments (as the message has them), and
  -- `list` all of them for mset
  local function apply(op, key, value, at, list, data_only)
    if op == "set" then
      put(key, value, math.tointeger(at or 0), data_only)
    elseif op == "delete" then
      drop(key, data_only)
    elseif op == "expire" then
      -- expire(key, at): its time comes second
      if data[key] ~= nil then put(key, data[key], math.tointeger(value), data_only) end
    elseif op == "mset" then
      for i = 1, #list, 2 do put(list[i], list[i + 1], 0, data_only) end
    else -- flush
      data, exps, count, nexp = {}, {}, 0, 0
      if not data_only then text = jsonfile.new() end
    end
  end

  -- A change cut short by the end (checked, its call taken, but applied
  -- half-way): it is applied again, the kept text made again from data,
  -- and its caller answered with the last batch.
  local function finish_change()
    local op = cur_op
    cur_op = nil
    apply(op, cur_key, cur_value, cur_at, cur_list, true)
    text = jsonfile.of(data, nil, exps)
    changes = changes + 1
    if cur_who and pending[3 * npend - 1] ~= cur_session then
      pending[3 * npend + 1], pending[3 * npend + 2], pending[3 * npend + 3] =
        cur_who, cur_session, cur_answer
      npend = npend + 1
    end
  end

  -- However this actor ends, what it gathered is written and answered
  -- first (closed before the lock, which was declared before it).
  local _ <close> = setmetatable({}, { __close = function()
    closing = true
    if cur_op ~= nil then finish_change() end
    flush()
    answer() -- a batch written (or refused) whose answers were cut short
    if dirty and not failed then sync_now() end
  end })

  local function bad_key(key)
    if type(key) ~= "string" or #key == 0 or #key > MAX_KEY then
      return "kv.writer: a key is a string of 1 to " .. MAX_KEY .. " bytes"
    end
  end
  local function bad_value(value)
    if type(value) ~= "string" or #value > MAX_VALUE then
      return "kv.writer: a value is a string of at most " .. MAX_VALUE .. " bytes"
    end
  end
  -- the store checks first (the load said "utf8"): only a set sent here
  -- directly is refused here
  local function bad_text(key)
    local bad = jsondata.bad_key(key)
    if bad then return "kv.writer: " .. bad .. " (the log writer takes any bytes)" end
  end
  local function bad_at(at)
    if at ~= nil and (type(at) ~= "number" or not math.tointeger(at) or at < 0) then
      return "kv.writer: an expiry time is an integer of ms since the epoch (0: never)"
    end
  end

  -- Each change: its arguments checked (the first bad one's why, or nil),
  -- and how many come before its answer.
  local check = {
    set = function(key, value, at)
      return bad_key(key) or bad_value(value) or bad_at(at) or bad_text(key)
    end,
    delete = function(key) return bad_key(key) end,
    expire = function(key, at)
      return bad_key(key) or bad_at(at) or (at == nil and "kv.writer: expire takes a time")
    end,
    mset = function(...)
      local n = select("#", ...)
      if n == 0 or n % 2 == 1 then return "kv.writer: mset takes keys and values, in pairs" end
      local kv = { ... } -- indexed: select(i, ...) each time is quadratic
      for i = 1, n, 2 do
        local key, value = kv[i], kv[i + 1]
        local bad = bad_key(key) or bad_value(value) or bad_text(key)
        if bad then return bad end
      end
    end,
    flush = function() end,
  }
  local ANSWER_AT = { set = 4, delete = 2, expire = 3, flush = 1 } -- mset: none

  -- A change: kv(op, ...) as the store forwards it, or op(...) itself.
  local function change(op, ...)
    local n, f = select("#", ...), check[op]
    local bad
    if unavailable then
      bad = unavailable
    elseif failed then
      bad = "changes are refused since " .. failed
    elseif not f then
      bad = "kv.writer: the writer takes set, delete, expire, mset and flush, not "
        .. tostring(op)
    else
      bad = f(...)
    end
    if bad then
      if actor.calling() then actor.reply_error(bad) end
      return settle()
    end
    local key, value, at = ...
    local said, where = true, ANSWER_AT[op] -- what the caller is answered
    if where and n >= where then said = (select(where, ...)) end
    if op == "delete" and data[key] == nil and not actor.calling() then
      return settle() -- nothing to write down, nobody to answer
    end
    local who, session
    if actor.calling() then who, session = actor.defer() end
    cur_key, cur_value, cur_at, cur_who, cur_session, cur_answer =
      key, value, at, who, session, said
    cur_list = op == "mset" and { ... } or nil
    cur_op = op
    apply(op, key, value, at, cur_list)
    changes = changes + 1
    if who then
      pending[3 * npend + 1], pending[3 * npend + 2], pending[3 * npend + 3] =
        who, session, said
      npend = npend + 1
    end
    cur_op = nil
    settle()
  end

  actor.serve{
    load = function(cursor)
      loader = actor.sender()
      if unavailable then return {}, nil, unavailable, unavailable, unavailable, "utf8" end
      if cursor == 0 or not keys then
        purge()
        keys = {}
        for k in pairs(data) do keys[#keys + 1] = k end
      end
      local entries, expiries, last = {}, nil, math.min(cursor + BATCH, #keys)
      for i = cursor + 1, last do
        local k = keys[i]
        entries[#entries + 1] = k
        entries[#entries + 1] = data[k]
        local at = exps[k]
        if at and not expiries then -- the first key of the batch that expires
          expiries = {}
          for j = 1, i - cursor - 1 do expiries[j] = 0 end
        end
        if expiries then expiries[i - cursor] = at or 0 end
      end
      settle()
      if last >= #keys then
        keys = nil
        return entries, nil, info, failed, nil, "utf8", expiries
      end
      return entries, last, info, failed, nil, "utf8", expiries
    end,
    kv = change,
    -- the same changes as messages of their own names: set(key, ...)
    set = function(...) return change("set", ...) end,
    delete = function(...) return change("delete", ...) end,
    expire = function(...) return change("expire", ...) end,
    mset = function(...) return change("mset", ...) end,
    flush = function(...) return change("flush", ...) end,
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
