-- actor.sleep, actor.after, actor.cancel and actor.now.
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
    assert.matches("argument 1: a function cannot be sent", err, 1, true)
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

  it("fails for a timer that has fired or was cancelled", function()
    local r = table.pack(H.run(function()
      local fired = actor.after(0, "now")
      H.expect("now")
      local ok1, err1 = actor.cancel(fired)
      local id = actor.after(1000, "x")
      actor.cancel(id)
      local ok2, err2 = actor.cancel(id)
      return ok1, err1, ok2, err2
    end))
    assert.falsy(r[1])
    assert.equal("no such actor", r[2])
    assert.falsy(r[3])
    assert.equal("no such actor", r[4])
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
