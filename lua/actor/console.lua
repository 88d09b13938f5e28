-- actor.console: the console of a running host (`troupe --console PATH`,
-- trL_console_start). The listener owns the Unix socket (actor.console_io)
-- and gives each connection a session, an actor of this host that reads
-- lines and evaluates them as the REPL does (actor.eval), sending back
-- what they print and their values. After each answer it sends one byte:
-- "\0" when ready for a statement, "\1" when the statement goes on.
-- A line "\0top SORT ROWS" answers a `troupe top` frame instead.
local actor = require "actor"
local eval = require "actor.eval"

local M = {}

local SORTS = { m = "rate", b = "mailbox", k = "memory", r = "restarts" }

local function human(n)
  if n >= 10 * 1024 * 1024 then return ("%dM"):format(n // (1024 * 1024)) end
  if n >= 10 * 1024 then return ("%dK"):format(n // 1024) end
  return tostring(math.floor(n))
end

local function fit(s, w)
  s = tostring(s):gsub("%c", " ")
  if #s > w then return s:sub(1, w - 1) .. "~" end
  return s
end

-- One frame of `troupe top`, at most 79 columns wide (no wrap at 80): the
-- node's totals, then its busiest actors, of every host (actor.list and
-- actor.stats{node = true}), by the column `sort` (a key of SORTS); hosts
-- that did not answer in time are named. state keeps each actor's count
-- of handled messages for the next frame's rates.
function M.frame(state, sort, rows)
  local key = SORTS[sort] or "rate"
  local now = actor.now()
  local list, missing = actor.list()
  local dt = state.t and (now - state.t) / 1000
  local seen, total = {}, 0
  for _, a in ipairs(list) do
    local id = tostring(a.pid)
    local before = state.prev and state.prev[id]
    a.rate = (dt and dt > 0 and before) and math.max(0, (a.handled - before) / dt) or 0
    total = total + a.rate
    seen[id] = a.handled
    a.restarts = a.restarts or 0
    a.memory = a.memory or 0 -- weighed by actor.list, for Lua actors
  end
  state.prev, state.t = seen, now
  table.sort(list, function(x, y)
    local vx, vy = x[key] or 0, y[key] or 0
    if vx ~= vy then return vx > vy end
    return x.rate > y.rate
  end)
  local s = actor.stats { node = true }
  local quiet = {}
  for host, why in pairs(missing or {}) do
    quiet[#quiet + 1] = ("%d (%s)"):format(host, why)
  end
  table.sort(quiet)
  local out = {
    fit(("troupe top %s  hosts %d  actors %d  msgs/s %d  lua %s  mbox %s  dead %d"):format(
      os.date("%H:%M:%S"), s.hosts, s.actors, math.floor(total + 0.5), human(s.lua_memory),
      human(s.mailbox_bytes), s.dead_letters), 79),
    fit(("sort: [m]sg/s [b]ox [k]mem [r]estarts  (now %s)  [q]uit%s"):format(key,
      #quiet > 0 and "  no answer: host " .. table.concat(quiet, ", ") or ""), 79),
    ("%-18s %4s %-17s %9s %7s %6s %3s %s"):format("PID", "HOST", "NAME", "MSG/S", "MBOX",
      "MEM", "RST", "STATUS"),
  }
  for i = 1, math.min(rows, #list) do
    local a = list[i]
    local name = a.name or (a.func and a.func:match("[^/]*$")) or a.kind or ""
    out[#out + 1] = ("%-18s %4d %-17s %9.1f %7d %6s %3d %s"):format(fit(a.pid, 18), a.host or 0,
      fit(name, 17), a.rate, a.mailbox or 0, human(a.memory), a.restarts,
      fit(a.waiting or a.status or "", 8))
  end
  return table.concat(out, "\n") .. "\n"
end

-- A session: lines in ("data" messages of raw bytes), answers out.
local function session(sock, id)
  local pending, buf, top = "", "", {}
  local function put(s) return sock:write(id, s) end
  local out
  local env = setmetatable({
    actor = actor, -- at hand without a require, as at the REPL
    print = function(...)
      local t = table.pack(...)
      for i = 1, t.n do t[i] = tostring(t[i]) end
      out[#out + 1] = table.concat(t, "\t", 1, t.n) .. "\n"
    end,
  }, { __index = _G, __newindex = _G })

  local function line(l)
    local cmd, sort, rows = l:match("^\0(%a+) ?(%a*) ?(%d*)$")
    if cmd == "top" then
      return put(M.frame(top, sort, tonumber(rows) or 20) .. "\0")
    end
    local src = pending .. l
    local fn, err = eval.compile(src, "=console")
    if fn then debug.setupvalue(fn, 1, env) end
    if not fn and err:find("<eof>$") then
      pending = src .. "\n"
      return put("\1")
    end
    pending, out = "", {}
    if fn then
      local r = table.pack(xpcall(fn, function(e)
        return (debug.traceback(tostring(e), 2):gsub("\n\t%[C%]: in function 'xpcall'.*", ""))
      end))
      if r[1] then
        local shown = eval.format(table.pack(table.unpack(r, 2, r.n)))
        if shown then out[#out + 1] = shown .. "\n" end
      else
        out[#out + 1] = r[2] .. "\n"
      end
    else
      out[#out + 1] = err .. "\n"
    end
    -- the end bytes mean the end of an answer: never inside one
    return put((table.concat(out):gsub("[\0\1]", "?")) .. "\0")
  end

  put(("troupe %s console, %s on host %d\n\0"):format(actor.version, tostring(actor.self()),
    actor.host and actor.host() or 0))
  while true do
    local name, data = actor.receive()
    if name == "data" then
      buf = buf .. data
      for l in buf:gmatch("([^\n]*)\n") do
        if not line((l:gsub("\r$", ""))) then return end
      end
      buf = buf:match("[^\n]*$")
    end
  end
end

-- The listener: the socket at path, a session for each connection.
function M.listen(path)
  local cio = require "actor.console_io" -- preloaded by troupe and trL_openlibs
  local sock <close> = cio.listen(path, actor.self())
  local sessions = {}
  actor.log("info", "console on " .. path)
  while true do
    local name, id, data = actor.receive()
    if name == "open" then
      sessions[id] = actor.spawn(function()
        local ok, err = pcall(session, sock, id)
        if not ok then actor.log("warn", "console session: " .. tostring(err)) end
        sock:close(id)
      end)
    elseif name == "data" and sessions[id] then
      actor.send(sessions[id], "data", data)
    elseif name == "closed" and sessions[id] then
      actor.kill(sessions[id])
      sessions[id] = nil
    end
  end
end

return M
