-- actor: troupe's Lua module. The C part (actor.core) does the work on the
-- host; this file adds what is plain Lua on top of it, such as serve.
local core = require "actor.core"
local check = require("actor.args").check

local actor = {}
for k, v in pairs(core) do
  if k:sub(1, 1) ~= "_" then actor[k] = v end -- _name: for this module's own files
end

local reply_error, calling = core.reply_error, core.calling

-- What a handler returned becomes the reply, if the call is still to be
-- answered (the handler may have answered, forwarded or deferred it):
-- finish(...) does `if calling() then reply(...) end` in one C call.
-- Varargs all the way: no table per message.
local finish = core._finish

-- serve's step per message, in C for speed: step(handlers, dispatch) is
-- dispatch(receive()), doing itself what dispatch below does for a handler
-- or a default function in a table without a metatable, and handing every
-- other case to dispatch.
local step = core._serve_step

-- actor.serve(handlers): a server loop. Each message `name` goes to
-- handlers[name](...); when it was a call, what the handler returns is the
-- reply. A handler that raises an error ends the actor, and its callers get
-- the error. handlers.default(name, ...) takes what has no handler; without
-- one, a call to an unknown name gets an error reply and a send is logged.
-- Returns when a handler calls actor.exit (which does not return) or when
-- a handler has set handlers.stop = true (a handler named "stop" is just a
-- handler).
function actor.serve(...)
  local handlers = ...
  check("actor.serve", 1, select("#", ...), handlers, "table")
  local function dispatch(name, ...)
    local f = handlers[name]
    if f then
      finish(f(...))
    elseif handlers.default then
      finish(handlers.default(name, ...))
    elseif calling() then
      reply_error("no handler for '" .. tostring(name) .. "'")
    elseif name ~= "down" and name ~= "exit" then
      core.log("warn", "serve: no handler for '" .. tostring(name) .. "'; dropped")
    end
  end
  repeat
    step(handlers, dispatch)
  until handlers.stop == true
end

-- actor.reset(name): restarts the actor the router reaches as `name`
-- (with whatever its supervisor restarts along with it, such as the
-- store's writer); returns once the new one runs.
function actor.reset(...)
  local name = ...
  check("actor.reset", 1, select("#", ...), name, "string")
  return actor.call("router", "router", "reset", name)
end

return actor
