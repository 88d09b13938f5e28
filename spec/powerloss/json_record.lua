-- json_record.lua: the power-loss simulator's recording hook on actor.file,
-- the JSON writer's one seam to the file system. install(rec) wraps the
-- module's functions: each does its real work, then tells rec what it did
-- to storage, in the order lfile.c does it, so that the run's log
-- (spec/powerloss/oplog.h) holds the JSON writer's operations as the
-- recording tr__kvio holds the native writer's. Test runs only
-- (spec/powerloss/jsonrun.c): nothing else loads it.
require "actor.core" -- preloads actor.file
local file = require "actor.file"

local M = {}

local function base(path) return (path:match("[^/]*$")) end

-- rec(op, name[, name2[, bytes]]): op is exists (answers whether the run
-- knows name), create, trunc, write (the whole file, at 0), fsync,
-- dirsync, rename, exchange or unlink.
function M.install(rec)
  local real_write, real_fsync, real_lock = file.write_atomic, file.fsync, file.lock

  -- write_atomic(path, data, sync, spare): path.tmp emptied (the spare's
  -- old file) or made, written, fsynced if sync, put in path's place by an
  -- exchange (or a rename when path is new), the directory fsynced if sync
  file.write_atomic = function(path, data, sync, spare)
    local name = base(path)
    local tmp = name .. ".tmp"
    local had = rec("exists", name)
    local ok, err, code = real_write(path, data, sync, spare)
    if not ok then return ok, err, code end
    if sync == nil then sync = true end
    if rec("exists", tmp) then rec("trunc", tmp) else rec("create", tmp) end
    rec("write", tmp, nil, type(data) == "table" and table.concat(data) or data)
    if sync then rec("fsync", tmp) end
    local kept = io.open(path .. ".tmp", "rb") -- the spare's old file, after an exchange
    if kept then kept:close() end
    if had and (kept or not spare) then
      rec("exchange", tmp, name)
      if not spare then rec("unlink", tmp) end
    else
      rec("rename", tmp, name)
    end
    if sync then rec("dirsync") end
    return ok
  end

  -- spare(path):empty() removes path.tmp, the spare file
  local real_spare = file.spare
  local tmp_of = setmetatable({}, { __mode = "k" }) -- spare -> its path.tmp
  file.spare = function(path)
    local sp = real_spare(path)
    tmp_of[sp] = path .. ".tmp"
    local meta = getmetatable(sp)
    if not meta.recorded then
      local real_empty = meta.empty
      meta.empty = function(self)
        local tmp = tmp_of[self]
        local had = tmp and rec("exists", base(tmp))
        local ok = real_empty(self)
        local f = tmp and io.open(tmp, "rb")
        if f then f:close() elseif had then rec("unlink", base(tmp)) end
        return ok
      end
      meta.recorded = true
    end
    return sp
  end

  file.fsync = function(path)
    local ok, err, code = real_fsync(path)
    if ok then
      rec("fsync", base(path))
      rec("dirsync")
    end
    return ok, err, code
  end

  -- lock(dir): LOCK made if missing, "pid <n>" written into it
  file.lock = function(dir, readonly)
    local had = rec("exists", "LOCK")
    local lock, err, code = real_lock(dir, readonly)
    if lock and not readonly then
      if not had then rec("create", "LOCK") else rec("trunc", "LOCK") end
      local f = io.open(dir .. "/LOCK", "rb")
      local text = f and f:read("a") or ""
      if f then f:close() end
      rec("write", "LOCK", nil, text)
    end
    return lock, err, code
  end
end

-- The writer's actor, for trL_spawn: the JSON writer on dir.
function M.writer(dir, policy)
  return require("actor.jsonwriter")(dir, policy)
end

return M
