-- actor.repl: the REPL that `troupe` opens without a script (or after one,
-- with -i). It is itself an actor, so what you type runs inside one:
-- actor.receive, actor.call and actor.sleep work at the prompt, and mail
-- for it stays in its mailbox until taken. Lines come from actor.stdin (a
-- thread of the troupe binary, with libedit on a terminal) through a
-- helper actor, the prompter, which the REPL calls for each line: a call
-- leaves the REPL's own mail queued. The prompter also answers completion
-- and makes the REPL's sleeps interruptible by Ctrl-C.
local actor = require "actor"
local stdin = require "actor.stdin"

rawset(_G, "actor", actor) -- at the prompt, actor is at hand without a require

local eval = require "actor.eval"
local is_name, keywords, compile = eval.is_name, eval.keywords, eval.compile
local POLL_MS = 100 -- how soon Ctrl-C stops an actor.receive at the prompt

local function show(r)
  local line = eval.format(r)
  if line then print(line) end
end

-- Completion of `a.b.c` or `a:m`: walks the names from _G, never calls.
local function candidates(text)
  local base, sep, part = text:match("^(.-)([.:])([%w_]*)$")
  local t = _G
  if base then
    for name in base:gmatch("[^.:]+") do
      if type(t) ~= "table" then return {} end
      t = rawget(t, name)
    end
  else
    base, sep, part = "", "", text
  end
  if type(t) ~= "table" then -- a string's methods, a pid's
    local mt = getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
  end
  local out, seen = {}, {}
  local depth = 0
  while type(t) == "table" and depth < 8 do
    for k, v in pairs(t) do
      if is_name(k) and not seen[k] and k:sub(1, #part) == part
        and (sep ~= ":" or type(v) == "function") then
        seen[k] = true
        out[#out + 1] = base .. sep .. k
      end
    end
    local mt = getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
    depth = depth + 1
  end
  if sep == "" then
    for k in pairs(keywords) do
      if k:sub(1, #part) == part then out[#out + 1] = k end
    end
  end
  table.sort(out)
  return out
end

-- The prompter: reads lines for the REPL (a call: read(prompt) -> line or
-- nothing at the end), answers completion, and times the REPL's sleeps.
local function prompter(repl)
  local reader, session -- the read being answered
  local sleepers = {}   -- session -> {who, timer}
  stdin.start(actor.self())
  actor.monitor(repl)
  while true do
    local msg = table.pack(actor.receive())
    local name = msg[1]
    if name == "read" then
      reader, session = actor.defer()
      stdin.request(msg[2])
    elseif name == "line" or name == "eof" then
      if reader then actor.reply_to(reader, session, msg[2]) end
      reader = nil
    elseif name == "complete" then
      local ok, list = pcall(candidates, msg[2])
      stdin.complete(ok and list or {})
    elseif name == "sleep" then
      local who, s = actor.defer()
      local ok, timer = pcall(actor.after, msg[2], "wake", s)
      if ok then
        sleepers[s] = { who, timer }
      else
        actor.reply_error_to(who, s, timer)
      end
    elseif name == "wake" and sleepers[msg[2]] then
      actor.reply_to(sleepers[msg[2]][1], msg[2])
      sleepers[msg[2]] = nil
    elseif name == "interrupt" then
      -- woken, the REPL meets the hook that Ctrl-C set and stops there
      for s, w in pairs(sleepers) do
        actor.cancel(w[2])
        actor.reply_to(w[1], s)
      end
      sleepers = {}
    elseif name == "down" then
      return
    end
  end
end

local EXIT = {} -- os.exit at the prompt: leave as Ctrl-D does

return function(chunk, ...)
  local tty = stdin.isatty()
  local me = coroutine.running()
  local helper = actor.spawn(prompter, actor.self())
  -- However the REPL ends (actor.exit at the prompt, a kill), the reader
  -- stops: a closing actor's to-be-closed variables are closed.
  local _ <close> = setmetatable({}, { __close = function() stdin.stop() end })
  local function call_prompter(name, ...)
    return actor.call_timeout(0, helper, name, ...)
  end

  -- The REPL's own waits in actor.sleep and os.exit; other actors keep theirs.
  local sleep, exit = actor.sleep, os.exit
  actor.sleep = function(ms, ...)
    if coroutine.running() ~= me or math.type(ms) ~= "integer" or ms < 0 then
      return sleep(ms, ...) -- its own errors for a bad ms
    end
    call_prompter("sleep", ms)
  end
  -- A receive at the prompt waits in slices, so that Ctrl-C's hook is met
  -- within one even when no mail comes.
  local receive = actor.receive
  actor.receive = function(...)
    local ms = ...
    if coroutine.running() ~= me or select("#", ...) > 1
      or (ms ~= nil and (math.type(ms) ~= "integer" or ms < 0)) then
      return receive(...)
    end
    local deadline = ms and actor.now() + ms
    while true do
      local left = deadline and math.max(0, math.ceil(deadline - actor.now())) or POLL_MS
      local r = table.pack(receive(math.min(left, POLL_MS)))
      if r.n > 0 then return table.unpack(r, 1, r.n) end
      if deadline and actor.now() >= deadline then return end
    end
  end
  os.exit = function(code, ...) -- luacheck: ignore 122
    if coroutine.running() ~= me then return exit(code, ...) end
    error({ EXIT, code == nil or code == true or code == 0 }, 0)
  end

  local function run(fn, ...)
    stdin.watch(actor.self())
    local r = table.pack(xpcall(fn, function(e)
      if (type(e) == "table" and e[1] == EXIT) or e == "interrupted" then return e end
      -- The traceback ends where the REPL's own frames begin.
      local tb = debug.traceback(e, 2)
      return (tb:gsub("\n\t%[C%]: in function 'xpcall'.*", ""))
    end, ...))
    stdin.watch(nil)
    return r
  end

  local function leave(ok)
    actor.sleep, actor.receive, os.exit = sleep, receive, exit -- luacheck: ignore 122
    stdin.stop()
    actor.kill(helper)
    if not ok then actor.exit("os.exit with a failure") end -- troupe exits 1
  end

  if chunk then
    local r = run(chunk, ...)
    if not r[1] then
      if type(r[2]) == "table" then return leave(r[2][2]) end
      io.stderr:write(tostring(r[2]), "\n")
    end
  end
  if tty then print("troupe " .. actor.version .. "  (end with Ctrl-D)") end
  local pending, noticed, failed = "", 0, 0
  while true do
    local waiting = actor.pending()
    if tty and waiting > 0 and waiting ~= noticed then
      print(("-- %d message%s waiting: actor.receive(0) takes one"):format(
        waiting, waiting > 1 and "s" or ""))
    end
    noticed = waiting
    local line = call_prompter("read", (not tty and "") or pending == "" and "> " or ">> ")
    if line == nil then
      if tty then io.stdout:write("\n") end
      leave(true)
      -- Piped input that failed fails, as a script would.
      if failed > 0 and not tty then
        actor.exit(("%d error%s in the input"):format(failed, failed > 1 and "s" or ""))
      end
      return
    end
    local src = pending .. line
    local fn, err = compile(src)
    if not fn and err:find("<eof>$") then
      pending = src .. "\n"
    else
      pending = ""
      local ok, why = fn ~= nil, err
      if fn then
        local r = run(fn)
        if r[1] then
          show(table.pack(table.unpack(r, 2, r.n)))
        elseif type(r[2]) == "table" then
          return leave(r[2][2])
        else
          ok, why = false, r[2]
        end
      end
      if not ok then
        print(why)
        failed = failed + 1
      end
    end
  end
end
