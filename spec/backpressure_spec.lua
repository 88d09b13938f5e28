-- A full mailbox: a Lua sender waits (backpressure) until there is room or
-- its send_timeout passes; try_send fails at once instead. The host's
-- default capacity is 1024 messages per mailbox.
local actor = require "actor"
local H = require "support.helpers"

local CAPACITY = 1024

-- A receiver that sleeps `nap` ms first (a slow start, with its mailbox
-- filling), then tells `root` it woke, takes `n` messages checking their
-- order, and reports how many came in order.
local function slow_receiver(root, nap, n)
  actor.sleep(nap)
  actor.send(root, "awake")
  local in_order = 0
  for i = 1, n do
    local name, k = actor.receive()
    if name == "n" and k == i then in_order = in_order + 1 end
  end
  actor.send(root, "received", in_order)
end

describe("a full mailbox", function()
  it("makes send wait until there is room, losing and reordering nothing", function()
    local n = 2000
    local r = H.run(function()
      local rcv = actor.spawn(slow_receiver, actor.self(), 50, n)
      for i = 1, n do
        assert(actor.send(rcv, "n", i) == true)
      end
      -- Had no send waited, we would be here while the receiver still
      -- sleeps, before its "awake"; as they waited for it to take mail,
      -- "awake" is in our mailbox already.
      local first = actor.receive(0)
      local in_order = H.expect("received")
      return { first, in_order }
    end)
    assert.same({ "awake", n }, r)
  end)

  it("makes try_send fail with 'mailbox full' instead of waiting", function()
    local r = table.pack(H.run(function()
      local rcv = actor.spawn(slow_receiver, actor.self(), 50, CAPACITY)
      for i = 1, CAPACITY do assert(actor.try_send(rcv, "n", i) == true) end
      local ok, err = actor.try_send(rcv, "n", CAPACITY + 1)
      local nothing_yet = actor.receive(0) == nil -- it did not wait
      H.expect("awake")
      local in_order = H.expect("received")
      return ok, err, nothing_yet, in_order
    end))
    assert.falsy(r[1])
    assert.equal("mailbox full", r[2])
    assert.is_true(r[3])
    assert.equal(CAPACITY, r[4])
  end)

  it("makes a send that waits past send_timeout fail", function()
    local ok, err
    H.configured({ send_timeout = 50 }, function()
      ok, err = H.run(function()
        local sleeper = actor.spawn(function() actor.sleep(60000) end)
        for i = 1, CAPACITY do actor.send(sleeper, "n", i) end
        return pcall(actor.send, sleeper, "one too many")
      end)
    end)
    assert.is_false(ok)
    assert.matches("the mailbox of <pid %d+%.%d+> stayed full for 50 ms", err)
  end)

  it("makes a call wait for room too, and fail past send_timeout", function()
    local ok, err
    H.configured({ send_timeout = 50 }, function()
      ok, err = H.run(function()
        local sleeper = actor.spawn(function() actor.sleep(60000) end)
        for i = 1, CAPACITY do actor.send(sleeper, "n", i) end
        return pcall(actor.call, sleeper, "hello")
      end)
    end)
    assert.is_false(ok)
    assert.matches("stayed full for 50 ms", err, 1, true)
  end)

  it("releases a waiting sender with an error when the receiver ends", function()
    local r = table.pack(H.run(function()
      local sleeper = actor.spawn(function() actor.sleep(60000) end)
      for i = 1, CAPACITY do actor.send(sleeper, "n", i) end
      local killer = actor.spawn(function(victim)
        actor.receive()
        actor.kill(victim, "gone")
      end, sleeper)
      actor.send(killer, "go") -- runs while we wait for room
      return actor.send(sleeper, "waiting")
    end))
    assert.falsy(r[1])
    assert.equal("no such actor", r[2])
  end)

  it("lets several waiting senders through, each in its own order", function()
    local n, senders = 1500, 3
    local r = H.run(function()
      local me = actor.self()
      local collector = actor.spawn(function(root, total)
        actor.sleep(30)
        local next_of, bad = {}, 0
        for _ = 1, total do
          local _, who, i = actor.receive()
          if i ~= (next_of[who] or 0) + 1 then bad = bad + 1 end
          next_of[who] = i
        end
        actor.send(root, "done", bad, next_of)
      end, me, n * senders)
      for s = 1, senders do
        actor.spawn(function(to, id, count)
          for i = 1, count do actor.send(to, "n", id, i) end
        end, collector, s, n)
      end
      local bad, last = H.expect("done", 10000)
      return { bad, last[1], last[2], last[3] }
    end)
    assert.same({ 0, n, n, n }, r)
  end)
end)
