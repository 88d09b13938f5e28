-- Shared helpers for the busted specs (require "support.helpers").
--
-- Every spec drives the module from a stock lua5.4 through actor.run, which
-- makes a fresh host, runs a function as its root actor and returns when it
-- ends. Waiting is always for a message, with a receive timeout as the
-- safety net: a spec never sleeps hoping something happened.
local actor = require "actor"

local H = {}

-- How long a spec waits for something that should come at once: long
-- enough never to be hit on a loaded machine, short enough to fail fast.
H.PATIENCE = 2000

-- Runs fn(...) as the root actor of a fresh host; returns what fn returned.
function H.run(fn, ...)
  local results
  actor.run(function(...) results = table.pack(fn(...)) end, ...)
  return table.unpack(results, 1, results.n)
end

-- The next message as one table {name, args..., n = count}; {n = 0} when
-- nothing came within ms (default H.PATIENCE).
function H.recv(ms)
  return table.pack(actor.receive(ms or H.PATIENCE))
end

-- Waits for the next message, which must be named `name`; returns its
-- arguments. Anything else (or nothing) is an error naming what came.
function H.expect(name, ms)
  local m = H.recv(ms)
  if m[1] ~= name then
    error(string.format("expected '%s', got %s", name,
      m.n == 0 and "nothing" or "'" .. tostring(m[1]) .. "'"), 2)
  end
  return table.unpack(m, 2, m.n)
end

-- Runs fn with actor.configure(settings) in force, and puts the previous
-- settings back afterwards, even when fn fails (settings outlive a host:
-- they belong to the lua_State).
function H.configured(settings, fn)
  local old = actor.configure()
  actor.configure(settings)
  local ok, err = pcall(fn)
  actor.configure(old)
  if not ok then error(err, 0) end
end

-- An actor that sends every message back to its sender, as it came, until
-- it gets "stop".
function H.echo()
  while true do
    local m = table.pack(actor.receive())
    if m[1] == "stop" then return end
    actor.send(actor.sender(), table.unpack(m, 1, m.n))
  end
end

-- An actor that waits for one message and ends normally.
function H.idle()
  actor.receive()
end

-- Monitors pid and waits for its down message, which must be the next
-- message to come; returns the reason.
function H.await_down(pid, ms)
  local ref = actor.monitor(pid)
  local name, got_ref, who, reason = actor.receive(ms or H.PATIENCE)
  assert(name == "down", "no down message for " .. tostring(pid))
  assert(got_ref == ref and who == pid, "a down message for someone else")
  return reason
end

-- ---------------------------------------------------------------- files

-- A fresh path for a data directory (not made: the writer makes it).
function H.fresh_dir()
  local path = os.tmpname()
  os.remove(path)
  return path
end

-- path quoted for the shell.
-- Runs a shell command; returns its output (stdout and stderr, unless the
-- command redirects them) and its exit status.
function H.sh(cmd)
  local f = assert(io.popen(cmd .. " 2>&1", "r"))
  local out = f:read("a")
  local _, _, code = f:close()
  return out, code
end

function H.quote(path)
  return "'" .. path:gsub("'", "'\\''") .. "'"
end

-- Removes a directory tree, undoing chattr +i first (a spec may set it).
function H.remove_tree(path)
  os.execute("chattr -R -i " .. H.quote(path) .. " 2>/dev/null; rm -rf " .. H.quote(path))
end

-- A file's bytes, or nil when it cannot be read.
function H.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("a")
  f:close()
  return s
end

function H.write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

function H.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- The error fn(...) raises; fails if it raises none.
function H.error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error, got success")
  return tostring(err)
end

-- Runs fn as the root actor of a fresh host with the store set up as cfg
-- says (store, writer, data_dir), fsync "no" unless settings say
-- otherwise; returns what fn returned.
function H.run_store(cfg, fn, settings)
  local all = { fsync = "no" }
  for k, v in pairs(cfg) do all[k] = v end
  for k, v in pairs(settings or {}) do all[k] = v end
  local results
  H.configured(all, function() results = table.pack(H.run(fn)) end)
  return table.unpack(results, 1, results.n)
end

return H
