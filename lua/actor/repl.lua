-- actor.repl: the REPL that `troupe` opens without a script. It is itself
-- an actor, so what you type runs inside one: actor.receive, actor.call and
-- actor.sleep work at the prompt. stdin is read one line at a time on a
-- thread of the troupe binary (actor.stdin), only when the REPL asks.
local actor = require "actor"
local stdin = require "actor.stdin"

rawset(_G, "actor", actor) -- at the prompt, actor is at hand without a require

local function show(...)
  if select("#", ...) > 0 then print(...) end
end

return function()
  local tty = stdin.isatty()
  local function prompt(p)
    if tty then
      io.stdout:write(p)
      io.stdout:flush()
    end
  end
  if tty then print("troupe " .. actor.version .. "  (end with Ctrl-D)") end
  stdin.start(actor.self())
  local pending = ""
  prompt("> ")
  stdin.request()
  while true do
    local msg = table.pack(actor.receive())
    local name, line = msg[1], msg[2]
    if name == "eof" then
      if tty then io.stdout:write("\n") end
      return
    elseif name == "line" then
      local src = pending .. line
      local fn, err = load("return " .. src, "=stdin")
      if not fn then fn, err = load(src, "=stdin") end
      if not fn and err:find("<eof>$") then
        pending = src .. "\n"
        prompt(">> ")
      else
        pending = ""
        if fn then
          local r = table.pack(xpcall(fn, debug.traceback))
          if r[1] then show(table.unpack(r, 2, r.n)) else print(r[2]) end
        else
          print(err)
        end
        prompt("> ")
      end
      stdin.request()
    else
      print("-- mail: " .. tostring(name), table.unpack(msg, 2, msg.n))
    end
  end
end
