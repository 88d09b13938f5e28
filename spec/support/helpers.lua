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

return H
