-- actor.run and actor.spawn.
local actor = require "actor"
local H = require "support.helpers"

describe("actor.run", function()
  it("runs a function as the root actor and passes it arguments", function()
    local got = table.pack(H.run(function(...)
      return actor.self() ~= nil, select("#", ...), ...
    end, "a", nil, 3))
    assert.same({ true, 3, "a", nil, 3, n = 5 }, got)
  end)

  it("returns true when the root actor ends", function()
    assert.is_true(actor.run(function() end))
  end)

  it("raises the root actor's error with its traceback", function()
    local ok, err = pcall(actor.run, function() error("root failed") end)
    assert.is_false(ok)
    assert.matches("root failed", err)
    assert.matches("stack traceback", err)
  end)

  it("raises when the root actor is killed by a link", function()
    local ok, err = pcall(actor.run, function()
      local child = actor.spawn(function() actor.receive() error("child failed", 0) end)
      actor.link(child)
      actor.send(child, "go")
      actor.receive(H.PATIENCE) -- the exit signal ends us first
    end)
    assert.is_false(ok)
    assert.matches("the root actor ended: child failed", err, 1, true)
  end)

  it("can run again after a run, on a fresh host", function()
    local first = H.run(function() return actor.stats().actors end)
    local second = H.run(function() return actor.stats().actors end)
    assert.equal(2, first) -- the root and the router
    assert.equal(2, second)
  end)

  it("refuses to run inside an actor", function()
    local ok, err = H.run(function() return pcall(actor.run, function() end) end)
    assert.is_false(ok)
    assert.matches("actor.run inside an actor", err, 1, true)
  end)

  it("needs a function", function()
    assert.has_error(function() actor.run(42) end)
  end)
end)

describe("actor.spawn", function()
  it("starts a Lua actor and returns its pid", function()
    local got = table.pack(H.run(function()
      local me = actor.self()
      local pid = actor.spawn(function(root) actor.send(root, "hello", actor.self()) end, me)
      local from = H.expect("hello")
      return tostring(pid):match("^<pid %d+%.%d+>$") ~= nil, pid == from, pid ~= me
    end))
    assert.same({ true, true, true, n = 3 }, got)
  end)

  it("passes arguments as copies, nil holes included", function()
    local t = { list = { 1, 2 }, name = "x" }
    local got, after = H.run(function()
      local me = actor.self()
      actor.spawn(function(root, n, tbl, gap, last)
        tbl.list[1] = "changed by the child"
        actor.send(root, "args", n, tbl, gap, last, select("#", gap, last))
      end, me, 7, t, nil, "end")
      local m = H.recv()
      return m, t.list[1]
    end)
    assert.same({ "args", 7, { list = { "changed by the child", 2 }, name = "x" },
      nil, "end", 2, n = 6 }, got)
    assert.equal(1, after) -- the spawner's table was never touched
  end)

  it("refuses arguments that cannot be sent, at the spawner", function()
    local ok, err, count = H.run(function()
      local before = actor.stats().actors
      local ok, err = pcall(actor.spawn, function() end, print)
      return ok, err, actor.stats().actors - before
    end)
    assert.is_false(ok)
    assert.matches("bad argument #2 to 'actor.spawn' (a function cannot be sent)", err, 1, true)
    assert.equal(0, count) -- nothing was started
  end)

  it("errors for a native actor name nobody defined", function()
    local ok, err = H.run(function() return pcall(actor.spawn, "no-such-native") end)
    assert.is_false(ok)
    assert.matches("no native actor is named 'no-such-native'", err, 1, true)
  end)

  it("errors for something that is neither a function nor a name", function()
    local ok, err = H.run(function() return pcall(actor.spawn, 42) end)
    assert.is_false(ok)
    assert.matches("function expected", err, 1, true)
  end)

  it("spawns many actors that all run", function()
    local n = 2000
    local total = H.run(function()
      local me = actor.self()
      for i = 1, n do
        actor.spawn(function(root, k) actor.send(root, "k", k) end, me, i)
      end
      local sum = 0
      for _ = 1, n do sum = sum + H.expect("k") end
      return sum
    end)
    assert.equal(n * (n + 1) // 2, total)
  end)
end)
