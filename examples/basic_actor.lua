-- basic_actor.lua -- the basic actor: a loop that receives messages from
-- its mailbox and updates private state.
--
--   build/troupe examples/basic_actor.lua
--
-- The script itself runs as an actor (the root actor): it spawns a counter,
-- sends it numbers, and asks it for the total at the end. The counter's
-- total is a local variable of its own loop; nothing else can touch it,
-- others can only send it messages.
local actor = require "actor"

-- The counter: "add"(n) adds n to the total and prints it; "total" sends
-- the total back to whoever asked; "stop" ends it.
local function counter()
  local total = 0
  while true do
    local name, n = actor.receive()
    if name == "add" then
      total = total + n
      print(string.format("counter: +%d -> %d", n, total))
    elseif name == "total" then
      actor.send(actor.sender(), "total", total)
    elseif name == "stop" then
      print("counter: stopping")
      return
    end
  end
end

local pid = actor.spawn(counter)
print("spawned the counter as " .. tostring(pid))

for _, n in ipairs({ 5, 10, 20, 7 }) do
  actor.send(pid, "add", n) -- returns at once: the counter works on its own
end

actor.send(pid, "total")
local _, total = actor.receive() -- the counter's answer
print("the total is " .. total)

actor.send(pid, "stop")
