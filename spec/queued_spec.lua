-- actor.receive and actor.serve with mail already queued: the running
-- coroutine takes it at once (tr_mailbox_next), with no yield and resume
-- per message, and all the rest -- timeouts, replies, forwards, the
-- sender, fairness -- holds as it does for mail that comes later.
local actor = require "actor"
local H = require "support.helpers"

-- Spawns n clients that each call `server` with (name, i) and send
-- ("result", i, reply values...) to `to`, then waits (a call to a gate
-- spawned after them, which runs after them) until every call is queued
-- in the caller's mailbox: the caller then has a burst of calls to take.
local function queue_calls(server, to, n, name)
  local pids = {}
  for i = 1, n do
    pids[i] = actor.spawn(function()
      local r = table.pack(actor.call(server, name, i))
      actor.send(to, "result", i, table.unpack(r, 1, r.n))
    end)
  end
  local gate = actor.spawn(function()
    actor.receive()
    actor.reply()
  end)
  actor.call(gate, "open")
  return pids
end

-- Collects n ("result", i, ...) messages into a table by i.
local function results(n)
  local got = {}
  for _ = 1, n do
    local m = H.recv()
    assert(m[1] == "result", "expected a result, got " .. tostring(m[1]))
    got[m[2]] = table.pack(table.unpack(m, 3, m.n))
  end
  return got
end

describe("receive with mail queued", function()
  it("returns it from receive(ms), and receive(ms) still times out", function()
    local first, second, none = H.run(function()
      local me = actor.self()
      actor.send(me, "a", 1)
      actor.send(me, "b", 2)
      local first = table.pack(actor.receive(H.PATIENCE))
      local second = table.pack(actor.receive(0))
      return first, second, table.pack(actor.receive(20))
    end)
    assert.same({ "a", 1, n = 2 }, first)
    assert.same({ "b", 2, n = 2 }, second)
    assert.same({ n = 0 }, none)
  end)

  it("leaves no timer behind when receive(ms) takes queued mail", function()
    local before, after = H.run(function()
      local before = actor.stats().timers
      actor.send(actor.self(), "queued")
      assert(actor.receive(60000) == "queued")
      return before, actor.stats().timers
    end)
    assert.equal(before, after)
  end)

  it("fails where it cannot wait, mail queued or not, and leaves the mail", function()
    local with_mail, served, later, without = H.run(function()
      local function sorted_with(...)
        local args = table.pack(...)
        -- a comparator is called from C: no yield can cross it
        return pcall(table.sort, { 1, 2 }, function(a, b)
          actor.receive(table.unpack(args, 1, args.n))
          return a < b
        end)
      end
      actor.send(actor.self(), "queued")
      local with_mail = table.pack(sorted_with())
      local served = table.pack(pcall(table.sort, { 1, 2 }, function(a, b)
        actor.serve { queued = function() end }
        return a < b
      end))
      local left = table.pack(actor.receive(0))
      local without = table.pack(sorted_with(10))
      return with_mail, served, left, without
    end)
    assert.is_false(with_mail[1])
    assert.matches("C-call boundary", with_mail[2], 1, true)
    assert.is_false(served[1])
    assert.matches("C-call boundary", served[2], 1, true)
    assert.same({ "queued", n = 1 }, later)
    assert.is_false(without[1])
  end)

  it("sets no timer for a receive(ms) that cannot wait", function()
    local m = H.run(function()
      pcall(table.sort, { 1, 2 }, function(a, b)
        actor.receive(10)
        return a < b
      end)
      -- Its 10 ms timeout, had it been set, would end this receive (with
      -- no timeout of its own) first; "later" ends it in any case.
      actor.after(100, "later")
      return table.pack(actor.receive())
    end)
    assert.same({ "later", n = 1 }, m)
  end)

  it("leaves no wait behind for a sleep or call that cannot wait", function()
    local r = table.pack(H.run(function()
      local me = actor.self()
      local silent = actor.spawn(function() actor.receive(); actor.receive() end)
      -- A worker whose sleep and call fail where they cannot wait; had
      -- either left its wait set, its mail would stay queued behind the
      -- answer (the call's never comes: no timeout, and no reply).
      local worker = actor.spawn(function()
        local function stuck(wait)
          return table.pack(pcall(table.sort, { 1, 2 }, function(a, b)
            wait()
            return a < b
          end))
        end
        local slept = stuck(function() actor.sleep(3600000) end)
        local called = stuck(function() actor.call_timeout(0, silent, "x") end)
        actor.send(me, "stuck", slept, called, table.pack(actor.receive()))
      end)
      actor.send(worker, "next")
      return H.expect("stuck", H.PATIENCE)
    end))
    for i = 1, 2 do
      assert.is_false(r[i][1])
      assert.matches("C-call boundary", r[i][2], 1, true)
    end
    assert.same({ "next", n = 1 }, r[3])
  end)

  it("drops a stale timeout of an earlier receive(ms)", function()
    local first, second, third = H.run(function()
      local me = actor.self()
      -- Both timers are due at once and fire together, "x" first: the
      -- receive gets "x", and its own timeout, already queued behind, is
      -- stale by then.
      actor.after(0, "x")
      local first = table.pack(actor.receive(0))
      actor.send(me, "y")
      -- The stale timeout is queued ahead of "y": taken and dropped.
      local second = table.pack(actor.receive(0))
      -- Nothing queued now: this one waits for its own timeout, or mail.
      actor.after(30, "z")
      return first, second, table.pack(actor.receive(H.PATIENCE))
    end)
    assert.same({ "x", n = 1 }, first)
    assert.same({ "y", n = 1 }, second)
    assert.same({ "z", n = 1 }, third)
  end)

  it("lets reply answer, and forward pass on, calls taken from the queue", function()
    local got, pids, senders = H.run(function()
      local me = actor.self()
      local helper = actor.spawn(function()
        while true do
          local _, x = actor.receive()
          actor.reply("helper", x * 100)
        end
      end)
      local pids = queue_calls(me, me, 6, "work")
      local senders = {}
      for i = 1, 6 do
        local name, x = actor.receive(0) -- queued: must not time out
        assert(name == "work" and x == i, "call " .. i .. " out of order")
        senders[i] = actor.sender()
        if x % 2 == 1 then
          actor.reply("me", x * 10)
        else
          actor.forward(helper)
        end
      end
      return results(6), pids, senders
    end)
    for i = 1, 6 do
      if i % 2 == 1 then
        assert.same({ "me", i * 10, n = 2 }, got[i])
      else
        assert.same({ "helper", i * 100, n = 2 }, got[i])
      end
      assert.equal(tostring(pids[i]), tostring(senders[i]))
    end
  end)

  it("answers and forwards calls kept across preemptions", function()
    -- A short slice: the busy loop after each receive is preempted many
    -- times, so the call being handled is kept aside meanwhile.
    local got
    H.configured({ slice = 100 }, function()
      got = H.run(function()
        local me = actor.self()
        local helper = actor.spawn(function()
          while true do
            local _, x = actor.receive()
            actor.reply("helper", x)
          end
        end)
        queue_calls(me, me, 4, "work")
        for i = 1, 4 do
          local name, x = actor.receive(0)
          assert(name == "work" and x == i, "call " .. i .. " out of order")
          local sum = 0
          for k = 1, 2000 do sum = sum + k end
          if x % 2 == 1 then
            actor.reply("me", x, sum)
          else
            actor.forward(helper)
          end
        end
        return results(4)
      end)
    end)
    assert.same({ "me", 1, 2001000, n = 3 }, got[1])
    assert.same({ "helper", 2, n = 2 }, got[2])
    assert.same({ "me", 3, 2001000, n = 3 }, got[3])
    assert.same({ "helper", 4, n = 2 }, got[4])
  end)

  it("keeps the sender of each message", function()
    local senders, pids = H.run(function()
      local me = actor.self()
      local pids = {}
      for i = 1, 3 do
        pids[i] = actor.spawn(function() actor.send(me, "hello", i) end)
      end
      local gate = actor.spawn(function()
        actor.receive()
        actor.reply()
      end)
      actor.call(gate, "open") -- the three hellos are queued now
      local senders = {}
      for i = 1, 3 do
        local name, x = actor.receive(0)
        assert(name == "hello" and x == i)
        senders[i] = tostring((actor.sender()))
      end
      return senders, pids
    end)
    for i = 1, 3 do assert.equal(tostring(pids[i]), senders[i]) end
  end)

  it("does not starve another actor while a flood is taken", function()
    local events = {}
    -- One slice long enough for the whole flood: only the share of the
    -- turn can let the other actor in.
    H.configured({ slice = 16777215 }, function()
      H.run(function()
        local me = actor.self()
        local flooded = actor.spawn(function()
          for _ = 1, 1000 do
            local _, i = actor.receive()
            events[#events + 1] = i
          end
          actor.send(me, "done")
        end)
        local other = actor.spawn(function()
          actor.receive()
          events[#events + 1] = "other"
          actor.send(me, "done")
        end)
        for i = 1, 1000 do actor.send(flooded, "m", i) end
        actor.send(other, "m")
        H.expect("done")
        H.expect("done")
      end)
    end)
    local at, n = nil, 0
    for k, e in ipairs(events) do
      if e == "other" then
        at = k
      else
        n = n + 1
        assert.equal(n, e) -- the flood in order
      end
    end
    assert.equal(1000, n)
    assert.is_not_nil(at)
    assert.is_true(at < 500, "the other actor ran only after " .. (at - 1) .. " of the flood")
  end)
end)

describe("actor.serve with a burst of calls queued", function()
  it("answers them all, in order", function()
    local order, got = {}, nil
    H.run(function()
      local me = actor.self()
      queue_calls(me, me, 20, "double")
      local handlers, left = {}, 20
      got = {}
      function handlers.double(x)
        order[#order + 1] = x
        return x * 2
      end
      function handlers.result(i, r)
        order[#order + 1] = "result"
        got[i] = r
        left = left - 1
        if left == 0 then handlers.stop = true end
      end
      actor.serve(handlers)
    end)
    for i = 1, 20 do
      assert.equal(i, order[i]) -- every call first, in the order it came
      assert.equal(2 * i, got[i])
      assert.equal("result", order[20 + i])
    end
  end)
end)
