-- actor.sleep, actor.after, actor.cancel, actor.now and actor.time.
local actor = require "actor"
local H = require "support.helpers"

describe("actor.sleep", function()
  it("waits at least that long, leaving mail queued", function()
    local m = H.run(function()
      actor.after(20, "tick") -- comes during the sleep
      actor.send(actor.self(), "queued")
      actor.sleep(80)
      -- both wait in the mailbox, in the order they came
      return { actor.receive(0), actor.receive(0) }
    end)
    assert.same({ "queued", "tick" }, m)
  end)

  it("does not oversleep by much", function()
    local early = H.run(function()
      actor.after(3000, "late")
      actor.sleep(10)
      return actor.receive(0) == nil
    end)
    assert.is_true(early)
  end)

  it("with 0 lets others run and returns", function()
    local m = H.run(function()
      actor.spawn(function(root) actor.send(root, "ran") end, actor.self())
      actor.sleep(0)
      return actor.receive(0)
    end)
    assert.equal("ran", m)
  end)

  it("refuses a bad time and needs an actor", function()
    local r = table.pack(H.run(function()
      return pcall(actor.sleep, -5), pcall(actor.sleep, "long")
    end))
    assert.is_false(r[1])
    assert.is_false(r[2])
    local ok, err = pcall(actor.sleep, 1)
    assert.is_false(ok)
    assert.matches("only an actor can do this", err, 1, true)
  end)
end)

describe("actor.after", function()
  it("sends the caller a message with arguments after a delay", function()
    local m, id = H.run(function()
      local id = actor.after(10, "tick", 1, { 2 }, nil, "x")
      return H.recv(), id
    end)
    assert.same({ "tick", 1, { 2 }, nil, "x", n = 5 }, m)
    assert.equal("integer", math.type(id))
  end)

  it("delivers timers in the order they are due", function()
    local order = H.run(function()
      actor.after(60, "third")
      actor.after(10, "first")
      actor.after(30, "second")
      return { H.recv()[1], H.recv()[1], H.recv()[1] }
    end)
    assert.same({ "first", "second", "third" }, order)
  end)

  it("refuses values that cannot be sent", function()
    local ok, err = H.run(function() return pcall(actor.after, 10, "f", print) end)
    assert.is_false(ok)
    assert.matches("bad argument #3 to 'actor.after' (a function cannot be sent)", err, 1, true)
  end)

  it("refuses a bad delay and needs an actor", function()
    local ok = H.run(function() return pcall(actor.after, -1, "x") end)
    assert.is_false(ok)
    local ok2, err2 = pcall(actor.after, 10, "x")
    assert.is_false(ok2)
    assert.matches("only an actor can do this", err2, 1, true)
  end)
end)

describe("actor.cancel", function()
  it("stops a pending timer", function()
    local r = H.run(function()
      local id = actor.after(20, "cancelled")
      local ok = actor.cancel(id)
      actor.after(60, "kept") -- due after the cancelled one
      return { ok, H.recv()[1] }
    end)
    assert.same({ true, "kept" }, r)
  end)

  it("fails for a timer that has fired, was cancelled or never was, saying so", function()
    local r = table.pack(H.run(function()
      local fired = actor.after(0, "now")
      H.expect("now")
      local ok1, err1 = actor.cancel(fired)
      local id = actor.after(1000, "x")
      actor.cancel(id)
      local ok2, err2 = actor.cancel(id)
      local ok3, err3 = actor.cancel(id + 1000)
      return ok1, err1, ok2, err2, ok3, err3
    end))
    assert.same({ nil, "no such timer", nil, "no such timer", nil, "no such timer" },
      { r[1], r[2], r[3], r[4], r[5], r[6] })
  end)

  it("needs an integer", function()
    local ok = H.run(function() return pcall(actor.cancel, "id") end)
    assert.is_false(ok)
  end)
end)

describe("actor.now", function()
  it("is a monotonic clock in milliseconds, finer than a millisecond", function()
    local t0, t1, t2 = H.run(function()
      local a = actor.now()
      local b = actor.now()
      actor.sleep(30)
      return a, b, actor.now()
    end)
    assert.equal("float", math.type(t0))
    assert.is_true(t1 >= t0)
    assert.is_true(t2 - t1 >= 29 and t2 - t1 < 1000)
    assert.is_true(actor.now() >= t2) -- works outside any actor too
  end)
end)

describe("actor.time", function()
  it("is the wall clock in whole milliseconds since the Unix epoch", function()
    local before = os.time()
    local t0, t1 = H.run(function()
      local a = actor.time()
      actor.sleep(30)
      return a, actor.time()
    end)
    local after = os.time()
    assert.equal("integer", math.type(t0))
    assert.is_true(t0 >= before * 1000 and t0 < (after + 1) * 1000, tostring(t0))
    assert.is_true(t1 - t0 >= 29 and t1 - t0 < 1000) -- (unless the clock is set meanwhile)
    assert.is_true(actor.time() >= t1) -- works outside any actor too
  end)
end)

-- Times in ms may have fractions, as actor.now() does: they are rounded up
-- to the next whole ms (a wait is never shortened by rounding; 0 stays 0).
-- Timers due at the same ms fire in the order they were set, so the order
-- in which timers fire shows how each time was rounded. A huge slice keeps
-- the timers of one spec within one turn of the loop.
describe("fractions of a millisecond", function()
  local function run(fn)
    local results
    H.configured({ slice = 16777215 }, function() results = table.pack(H.run(fn)) end)
    return table.unpack(results, 1, results.n)
  end

  it("are rounded up in actor.after", function()
    local order = run(function()
      actor.after(1.2, "1.2 -> 2") -- after 1 ms, were it rounded to the nearest
      actor.after(1, "1")
      actor.after(0.5, "0.5 -> 1") -- first, were it cut down to 0
      actor.after(0, "0")
      actor.after(2, "2")
      local got = {}
      for i = 1, 5 do got[i] = H.recv()[1] end
      return got
    end)
    assert.same({ "0", "1", "0.5 -> 1", "1.2 -> 2", "2" }, order)
  end)

  it("are rounded up in actor.receive and actor.sleep", function()
    local first, none, zero = run(function()
      actor.after(1, "one")
      local first = actor.receive(0.5) -- waits 1 ms: "one", due as soon, comes first
      local none = table.pack(actor.receive(0.25)).n -- nothing within 1 ms
      actor.after(0, "zero")
      actor.sleep(0.5) -- 1 ms: "zero" comes meanwhile
      return first, none, actor.receive(0)
    end)
    assert.same({ "one", 0, "zero" }, { first, none, zero })
  end)

  it("are taken by call timeouts, and by call_timeout and send_timeout in configure", function()
    local err = run(function()
      local silent = actor.spawn(function() actor.receive() actor.receive() end)
      return select(2, pcall(actor.call_timeout, 0.5, silent, "x"))
    end)
    assert.matches("failed: timeout", err, 1, true)
    local old = actor.configure()
    local now = actor.configure { call_timeout = 2.5, send_timeout = 0.1 }
    actor.configure(old)
    assert.same({ 3, 1 }, { now.call_timeout, now.send_timeout })
  end)

  it("make a call time out no sooner than asked", function()
    local ok, got = run(function()
      local silent = actor.spawn(function() actor.receive() actor.receive() end)
      actor.after(1, "one")
      local ok = pcall(actor.call_timeout, 0.5, silent, "x") -- 1 ms: after "one"
      return ok, actor.receive(0)
    end)
    assert.same({ false, "one" }, { ok, got })
  end)
end)
