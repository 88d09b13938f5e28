-- actor: troupe's Lua module. The C part (actor.core) does the work on the
-- host; this file adds what is plain Lua on top of it, such as serve.
local core = require "actor.core"

local actor = {}
for k, v in pairs(core) do actor[k] = v end

local pack, unpack = table.pack, table.unpack
local receive, reply, reply_error, calling = core.receive, core.reply,
  core.reply_error, core.calling

-- actor.serve(handlers): a server loop. Each message `name` goes to
-- handlers[name](...); when it was a call, what the handler returns is the
-- reply. A handler that raises an error ends the actor, and its callers get
-- the error. handlers.default(name, ...) takes what has no handler; without
-- one, a call to an unknown name gets an error reply and a send is logged.
-- Returns when a handler calls actor.exit (which does not return) or when
-- a handler has set handlers.stop = true (a handler named "stop" is just a
-- handler).
function actor.serve(handlers)
  while true do
    local msg = pack(receive())
    local name = msg[1]
    local f = handlers[name]
    local results
    if f then
      results = pack(f(unpack(msg, 2, msg.n)))
    elseif handlers.default then
      results = pack(handlers.default(unpack(msg, 1, msg.n)))
    elseif calling() then
      reply_error("no handler for '" .. tostring(name) .. "'")
    elseif name ~= "down" and name ~= "exit" then
      core.log("warn", "serve: no handler for '" .. tostring(name) .. "'; dropped")
    end
    if results and calling() then reply(unpack(results, 1, results.n)) end
    if handlers.stop == true then return end
  end
end

return actor
