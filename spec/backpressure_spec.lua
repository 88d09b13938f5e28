-- A full mailbox: a Lua sender waits (backpressure) until there is room or
-- its send_timeout passes; try_send fails at once instead, and the refusal
-- is a dead letter. The host's default capacity is 1024 messages per
-- mailbox, the router's included: what it holds for the store counts.
-- Waiting senders are woken one per freed slot, in the order they began
-- to wait.
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

  it("counts a try_send refused for a full mailbox as a dead letter", function()
    local r = table.pack(H.run(function()
      local sleeper = actor.spawn(function() actor.sleep(60000) end)
      for i = 1, CAPACITY do assert(actor.try_send(sleeper, "n", i)) end
      local before = actor.stats().dead_letters
      local ok, err = actor.try_send(sleeper, "one too many")
      local ok2 = actor.try_send(sleeper, "and another")
      return ok, err, ok2, actor.stats().dead_letters - before
    end))
    assert.falsy(r[1])
    assert.equal("mailbox full", r[2])
    assert.falsy(r[3])
    assert.equal(2, r[4])
  end)

  it("wakes waiting senders one per freed slot, in the order they began to wait", function()
    local n = 1000
    local r = H.run(function()
      local root = actor.self()
      -- The receiver takes nothing until the root answers its call, then
      -- reports the order in which the senders' messages came.
      local rcv = actor.spawn(function()
        actor.call_timeout(0, root, "hold")
        for _ = 1, CAPACITY do actor.receive() end
        local order = {}
        for i = 1, n do order[i] = select(2, actor.receive()) end
        actor.send(root, "order", order)
      end)
      H.expect("hold")
      local _, session = actor.defer()
      for i = 1, CAPACITY do assert(actor.try_send(rcv, "fill", i)) end
      for i = 1, n do
        actor.spawn(function()
          actor.send(root, "waiting") -- and begins to wait at once:
          actor.send(rcv, "n", i)
        end)
      end
      for _ = 1, n do H.expect("waiting") end
      local before = actor.stats().delivered
      actor.reply_to(rcv, session)
      local order = H.expect("order", 10000)
      return { order = order, deliveries = actor.stats().delivered - before }
    end)
    local in_order = 0
    for i = 1, n do
      if r.order[i] == i then in_order = in_order + 1 end
    end
    assert.equal(n, in_order)
    -- The receiver's CAPACITY + n messages, one room message per sender,
    -- the reply and the report: O(n), where waking every waiter each time
    -- the mailbox leaves full costs O(n * n).
    assert.is_true(r.deliveries <= CAPACITY + 2 * n + 10,
      "deliveries: " .. r.deliveries)
  end)
end)

-- The router: sends and calls through it (to "kv", as actor.kv makes them)
-- are bounded like direct ones.
describe("a flood through the router", function()
  local dir

  before_each(function()
    dir = os.tmpname()
    os.remove(dir)
  end)

  after_each(function()
    os.execute("rm -rf '" .. dir .. "'")
  end)

  it("is refused past the router's capacity, each refusal a dead letter", function()
    local flood = 3 * CAPACITY
    local r
    -- One slice long enough for the whole flood: nothing else runs
    -- meanwhile, so the router cannot pass anything on yet.
    H.configured({ data_dir = dir, fsync = "no", slice = 16777215 }, function()
      r = table.pack(H.run(function()
        local try_send, ok, refused = actor.try_send, 0, 0
        local before = actor.stats().dead_letters
        for _ = 1, flood do
          local sent, err = try_send("router", "kv", "count")
          if sent then
            ok = ok + 1
          elseif err == "mailbox full" then
            refused = refused + 1
          end
        end
        local dead = actor.stats().dead_letters - before
        -- A request after the flood is answered within its timeout.
        local count = actor.call_timeout(2000, "router", "kv", "count")
        return ok, refused, dead, count
      end))
    end)
    assert.equal(CAPACITY, r[1])
    assert.equal(flood - CAPACITY, r[2])
    assert.equal(flood - CAPACITY, r[3])
    assert.equal(0, r[4])
  end)

  it("makes many senders wait, loses nothing, and answers a call made after it", function()
    local senders, each = 20, 2000
    local r
    H.configured({ data_dir = dir, fsync = "no" }, function()
      r = table.pack(H.run(function()
        local root = actor.self()
        for s = 1, senders do
          actor.spawn(function()
            local send, try_send, waited = actor.send, actor.try_send, 0
            for i = 1, each do
              local key = s .. ":" .. i
              if not try_send("router", "kv", "set", key, "v") then
                waited = waited + 1 -- the router is full: wait for room
                assert(send("router", "kv", "set", key, "v"))
              end
            end
            send(root, "sent", waited)
          end)
        end
        local waited = 0
        for _ = 1, senders do waited = waited + H.expect("sent", 20000) end
        local t0 = actor.now()
        local count = actor.call_timeout(2000, "router", "kv", "count")
        return count, actor.now() - t0, waited
      end))
    end)
    assert.equal(senders * each, r[1])
    assert.is_true(r[2] < 2000)
    assert.is_true(r[3] > 0, "no sender ever found the router full")
  end)
end)

