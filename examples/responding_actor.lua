-- responding_actor.lua -- the responding actor: a request carries a way to
-- reply, and the caller waits for the answer -- or does other work first
-- and collects the answers later.
--
--   build/troupe examples/responding_actor.lua
--
-- 1. call and wait: actor.call sends a request and waits for its reply; the
--    server's handler returns the reply (actor.serve).
-- 2. a failed call raises an error: the callee had no such handler.
-- 3. wait later: the caller sends several requests through workers, does
--    other work, then collects the answers from its mailbox.
local actor = require "actor"

-- The server: answers square(n) with n * n.
local squarer = actor.spawn(function()
  actor.serve {
    square = function(n) return n * n end,
  }
end)

-- 1. Call and wait.
for n = 1, 3 do
  local result = actor.call(squarer, "square", n)
  print(string.format("square(%d) = %d", n, result))
end

-- 2. A call that fails raises an error in the caller.
local ok, err = pcall(actor.call, squarer, "cube", 2)
if not ok then
  print("cube(2) failed: " .. err:match("failed: (.*)$"))
end

-- 3. Wait later. Each worker makes one call and sends the answer back to
-- us, tagged with the number it asked about; meanwhile we are free.
local me = actor.self()
local asked = { 4, 5, 6 }
for _, n in ipairs(asked) do
  actor.spawn(function(x)
    actor.send(me, "answer", x, actor.call(squarer, "square", x))
  end, n)
end
print(string.format("sent %d requests; doing other work while they are answered", #asked))

local answers = {}
for _ = 1, #asked do
  local _, n, result = actor.receive(1000)
  answers[n] = result
end
for _, n in ipairs(asked) do
  print(string.format("collected square(%d) = %d", n, answers[n]))
end
