-- actor.jsonstart: how the JSON writer (actor.jsonwriter) starts. It makes
-- the data directory, locks it and reads data.json back, repairing what a
-- crash left, as the native writer's start does (services/store/kvrecover.c),
-- and ends in one of three states, never in an error that would only
-- make its supervisor start it again and again:
--
--   writable     the data is loaded (or there is none yet): changes go on;
--   read-only    the data is loaded, but the directory or data.json cannot
--                be written (EACCES, EROFS, EPERM), or a bad data.json
--                cannot be moved aside: `refused` says why, and the writer
--                refuses every change with it while it serves loads;
--   unavailable  there is no data to give: the directory cannot be made,
--                another writer holds it, data.json cannot be read.
--                `unavailable` says why, and every request gets it.
--
-- Steps: 1. mkdir. 2. LOCK, flock'ed (held: unavailable; cannot be made
-- for lack of rights: read-only, and then only looked at). 3. Leftovers of
-- a crash -- data.json.tmp (a write cut short, or the old file of a
-- replace cut short) and data.json.sync.tmp -- are removed, and said.
-- 4. data.json is read and checked (actor.jsondata). None: an empty
-- store. Bad (cut short, zero padding, trailing bytes, not an object...):
-- kept aside as data.json.bad-<time>, never overwritten, and the copy the
-- writer fsynced last (data.json.sync, kept under the everysec policy) is
-- loaded instead if it is good; else the store starts empty. No
-- data.json but a good data.json.sync (a start fell back on it and kept
-- the bad data.json aside, and nothing was written since): the copy is
-- loaded. 5. Unless
-- read-only already, a probe: can a file be made in the directory, can
-- data.json be opened for writing.
local file = require "actor.file"
local jsondata = require "actor.jsondata"

local E = file.errno

local M = {}

local function read_only_errno(code)
  return code == E.EACCES or code == E.EROFS or code == E.EPERM
end

-- The system's words at the end of an error message ("...: Not a directory").
local function cause(msg)
  msg = tostring(msg)
  return msg:match(": ([^:]+)$") or msg
end

-- A name for a bad file kept aside: <path>.bad-<unix time>[-n], not taken.
local function aside_name(path)
  local t, n = os.time(), 0
  local name = path .. ".bad-" .. t
  local taken = io.open(name, "rb")
  while taken do
    taken:close()
    n = n + 1
    name = path .. ".bad-" .. t .. "-" .. n
    taken = io.open(name, "rb")
  end
  return name
end

-- The bytes of the file at path; nil when there is none; false and why
-- when it cannot be read (a directory, no rights, an I/O error).
local function slurp(path)
  local f, err, code = io.open(path, "rb")
  if not f then
    if code == E.ENOENT then return nil end
    return false, err
  end
  local text, rerr = f:read("a")
  f:close()
  if not text then return false, path .. ": " .. tostring(rerr) end
  return text
end

-- Opens dir for the writer. opts: log(level, text), beat() (long work
-- shows life) and now (ms since the epoch: keys expired by then are left
-- out). Returns st = { path, data (key -> value), exps (key -> when it
-- expires, for those that do), count, info (the
-- line kv("info") gives), exists (data.json was loaded), lock (to close
-- when the writer ends), refused, unavailable }.
function M.open(dir, opts)
  local log, beat = opts.log, opts.beat
  local path = dir .. "/data.json"
  local st = { path = path, data = {}, exps = {}, count = 0 }
  local notes = {}

  local function unavailable(why)
    st.unavailable, st.refused, st.info = why, why, why
    log("error", "kv.writer: " .. why .. "; every request to the store is answered with "
      .. "this until it restarts")
    return st
  end
  local function read_only(why)
    if st.refused then return end
    st.refused = why
    log("error", "kv.writer: " .. why .. "; changes are refused (reads go on); fix the "
      .. "cause and restart the store")
  end

  -- 1, 2: the directory and its lock
  local ok, err = file.mkdir(dir)
  if not ok then
    return unavailable("cannot create the data directory " .. dir .. ": " .. cause(err))
  end
  local lock, code
  lock, err, code = file.lock(dir)
  if not lock and code and read_only_errno(code) then
    read_only("the data directory " .. dir .. " is not writable (" .. cause(err) .. ")")
    lock, err, code = file.lock(dir, true)
    if not lock and code == E.ENOENT then lock, err = false, nil end -- nobody wrote here
  end
  if lock == nil then return unavailable(err) end -- in use, or LOCK cannot be opened
  st.lock = lock or nil

  -- 3: what a crash left
  if not st.refused then
    for _, leftover in ipairs { path .. ".tmp", path .. ".sync.tmp" } do
      if os.remove(leftover) then
        log("warn", "kv.writer: removed " .. leftover .. ", left over from a crash")
        notes[#notes + 1] = "removed " .. leftover:match("[^/]*$") .. ", left over from a crash"
      end
    end
  end

  -- 4: the data
  local text, why = slurp(path)
  if text == false then return unavailable("cannot read " .. why) end
  if text == nil then
    -- None, but the copy fsynced last: a start that fell back on it kept
    -- a bad data.json aside, and nothing was written since (or data.json
    -- was lost). Without it, this start would lose what the last one had.
    local copy = slurp(path .. ".sync")
    local cdata, cn, cexps
    if copy then cdata, cn, cexps = jsondata.parse(copy, beat, opts.now) end
    if cdata then
      st.data, st.count, st.exps = cdata, cn, cexps
      st.info = "no " .. path .. "; loaded " .. cn .. (cn == 1 and " key" or " keys")
        .. " from " .. path .. ".sync, the copy fsynced last"
      log("warn", "kv.writer: " .. st.info)
    else
      st.info = "no " .. path .. " yet: starting empty"
    end
  else
    beat()
    local data, n, exps = jsondata.parse(text, beat, opts.now)
    if data then
      st.data, st.count, st.exps, st.exists = data, n, exps, true
      st.info = "loaded " .. n .. (n == 1 and " key" or " keys") .. " from " .. path
    else
      local line = path .. " cannot be read: " .. n
      local copy = slurp(path .. ".sync")
      local cdata, cn, cexps
      if copy then cdata, cn, cexps = jsondata.parse(copy, beat, opts.now) end
      if st.refused then
        line = line .. "; left as it is (read-only)"
      else
        local aside = aside_name(path)
        local moved, merr = os.rename(path, aside)
        if moved then
          line = line .. "; kept aside as " .. aside
        else
          read_only("cannot keep the bad " .. path .. " aside (" .. cause(merr) .. ")")
          line = line .. "; it cannot be kept aside"
        end
      end
      if cdata then
        st.data, st.count, st.exps = cdata, cn, cexps
        line = line .. "; loaded " .. cn .. (cn == 1 and " key" or " keys") .. " from " .. path
          .. ".sync, the copy fsynced last (changes made after it are lost)"
      else
        line = line .. "; starting empty"
      end
      log("error", "kv.writer: " .. line)
      st.info = line
    end
  end

  -- 5: can it write?
  if not st.refused then
    local f, perr, pcode = io.open(path .. ".tmp", "wb")
    if f then
      f:close()
      os.remove(path .. ".tmp")
    elseif read_only_errno(pcode) then
      read_only("the data directory " .. dir .. " is not writable (" .. cause(perr) .. ")")
    end
  end
  if not st.refused and st.exists then
    local f, perr, pcode = io.open(path, "r+b")
    if f then
      f:close()
    elseif read_only_errno(pcode) then
      read_only(path .. " is not writable (" .. cause(perr) .. ")")
    end
  end

  if st.refused then notes[#notes + 1] = "read-only: " .. st.refused end
  if #notes > 0 then st.info = st.info .. "; " .. table.concat(notes, "; ") end
  log("info", "kv.writer: " .. st.info)
  return st
end

return M
