-- actor.receive.
local actor = require "actor"
local H = require "support.helpers"

describe("actor.receive", function()
  it("returns the name and the arguments of the next message", function()
    local m = H.run(function()
      actor.send(actor.self(), "note", "a", 2, true)
      return table.pack(actor.receive())
    end)
    assert.same({ "note", "a", 2, true, n = 4 }, m)
  end)

  it("takes messages in the order they came", function()
    local got = H.run(function()
      local me = actor.self()
      actor.spawn(function(root)
        for i = 1, 3 do actor.send(root, "from-a", i) end
      end, me)
      actor.send(me, "from-me") -- before a runs: it starts when we wait
      local seen = {}
      for i = 1, 4 do
        local name, x = actor.receive(H.PATIENCE)
        seen[i] = name .. (x and tostring(x) or "")
      end
      return seen
    end)
    assert.same({ "from-me", "from-a1", "from-a2", "from-a3" }, got)
  end)

  it("waits for a message that comes later", function()
    local m = H.run(function()
      actor.after(20, "later", 1)
      return H.recv()
    end)
    assert.same({ "later", 1, n = 2 }, m)
  end)

  it("returns nil (no values) when the timeout passes first", function()
    local n, first, late = H.run(function()
      actor.after(3000, "too-late") -- must not have come when receive returns
      local r = table.pack(actor.receive(30))
      local late = table.pack(actor.receive(0))
      return r.n, r[1], late[1]
    end)
    assert.equal(0, n)
    assert.is_nil(first)
    assert.is_nil(late)
  end)

  it("with 0 returns what is queued, and nil at once when nothing is", function()
    local queued, empty = H.run(function()
      actor.send(actor.self(), "queued", 1)
      local queued = table.pack(actor.receive(0))
      return queued, table.pack(actor.receive(0))
    end)
    assert.same({ "queued", 1, n = 2 }, queued)
    assert.same({ n = 0 }, empty)
  end)

  it("is not woken later by the timeout of a receive that got mail", function()
    local m = H.run(function()
      actor.send(actor.self(), "first")
      assert(actor.receive(20) == "first")
      -- The 20 ms timer of that receive is gone: this receive waits for
      -- the real message, due after it would have fired.
      actor.after(60, "second")
      return H.recv()
    end)
    assert.same({ "second", n = 1 }, m)
  end)

  it("gets down and exit notices like messages", function()
    local down, exit = H.run(function()
      local a = actor.spawn(function() error("a failed", 0) end)
      actor.monitor(a)
      local down = H.recv()
      actor.trap_exit(true)
      local b = actor.spawn(function() actor.receive() end)
      actor.link(b)
      actor.send(b, "go")
      return down, H.recv()
    end)
    assert.equal("down", down[1])
    assert.equal("a failed", down[4])
    assert.equal("exit", exit[1])
    assert.equal("normal", exit[3])
  end)

  it("refuses a timeout that is negative, NaN or not a number", function()
    local r = table.pack(H.run(function()
      return pcall(actor.receive, -1), pcall(actor.receive, "soon"), pcall(actor.receive, 0 / 0)
    end))
    assert.is_false(r[1])
    assert.is_false(r[2])
    assert.is_false(r[3])
  end)

  it("needs an actor", function()
    local ok, err = pcall(actor.receive, 0)
    assert.is_false(ok)
    assert.matches("only an actor can do this", err, 1, true)
  end)
end)
