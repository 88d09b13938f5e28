-- actor.send and actor.try_send.
local actor = require "actor"
local H = require "support.helpers"

describe("actor.send", function()
  it("delivers a name and arguments to a pid", function()
    local m = H.run(function()
      local echo = actor.spawn(H.echo)
      assert(actor.send(echo, "greet", "hello", 42) == true)
      return H.recv()
    end)
    assert.same({ "greet", "hello", 42, n = 3 }, m)
  end)

  it("delivers to a registered name", function()
    local m = H.run(function()
      local echo = actor.spawn(H.echo)
      actor.register("the-echo", echo)
      assert(actor.send("the-echo", "by-name", 1) == true)
      return H.recv()
    end)
    assert.same({ "by-name", 1, n = 2 }, m)
  end)

  it("errors for a name nobody registered", function()
    local ok, err = H.run(function() return pcall(actor.send, "nobody-here", "x") end)
    assert.is_false(ok)
    assert.matches("no actor is registered as 'nobody-here'", err, 1, true)
  end)

  it("errors for a destination that is neither a pid nor a name", function()
    local ok, err = H.run(function() return pcall(actor.send, 42, "x") end)
    assert.is_false(ok)
    assert.matches("pid or registered name expected", err, 1, true)
  end)

  it("needs a message name", function()
    local ok, err = H.run(function() return pcall(actor.send, actor.self()) end)
    assert.is_false(ok)
    assert.matches("string expected", err, 1, true)
  end)

  it("returns a failure and a message for a dead pid, and counts a dead letter", function()
    local r = table.pack(H.run(function()
      local pid = actor.spawn(H.idle)
      actor.send(pid, "stop")
      H.await_down(pid)
      local before = actor.stats().dead_letters
      local ok, err = actor.send(pid, "anyone?")
      return ok, err, actor.stats().dead_letters - before
    end))
    assert.falsy(r[1])
    assert.equal("no such actor", r[2])
    assert.equal(1, r[3])
  end)

  it("keeps the order of messages from one sender", function()
    local got = H.run(function()
      local echo = actor.spawn(H.echo)
      for i = 1, 500 do actor.send(echo, "n", i) end
      local seen = {}
      for i = 1, 500 do seen[i] = H.expect("n") end
      return seen
    end)
    for i = 1, 500 do assert.equal(i, got[i]) end
  end)
end)

describe("actor.try_send", function()
  it("delivers like send when there is room", function()
    local m = H.run(function()
      local echo = actor.spawn(H.echo)
      assert(actor.try_send(echo, "t", { 1, 2 }) == true)
      return H.recv()
    end)
    assert.same({ "t", { 1, 2 }, n = 2 }, m)
  end)

  it("delivers to a registered name and errors for an unknown one", function()
    local m, ok, err = H.run(function()
      actor.register("me")
      actor.try_send("me", "to-myself")
      local m = H.recv()
      return m, pcall(actor.try_send, "not-registered", "x")
    end)
    assert.same({ "to-myself", n = 1 }, m)
    assert.is_false(ok)
    assert.matches("no actor is registered as 'not-registered'", err, 1, true)
  end)

  it("returns a failure and a message for a dead pid", function()
    local ok, err = H.run(function()
      local pid = actor.spawn(function() end)
      H.await_down(pid)
      return actor.try_send(pid, "x")
    end)
    assert.falsy(ok)
    assert.equal("no such actor", err)
  end)

  it("returns a failure instead of waiting when the mailbox is full", function()
    -- (The full mailbox itself is in backpressure_spec.lua.)
    local sent, ok, err = H.run(function()
      local sleeper = actor.spawn(function() actor.sleep(60000) end)
      local n = 0
      while actor.try_send(sleeper, "fill", n) do n = n + 1 end
      return n, actor.try_send(sleeper, "one more")
    end)
    assert.equal(1024, sent) -- the host's default capacity
    assert.falsy(ok)
    assert.equal("mailbox full", err)
  end)

  it("refuses values that cannot be sent", function()
    local ok, err = H.run(function()
      return pcall(actor.try_send, actor.self(), "f", function() end)
    end)
    assert.is_false(ok)
    assert.matches("bad argument #3 to 'actor.try_send' (a function cannot be sent)", err, 1, true)
  end)
end)
