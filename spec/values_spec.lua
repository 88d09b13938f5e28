-- What crosses between actors: values travel as copies, and what cannot be
-- copied is refused at the sender with a clear error.
local actor = require "actor"
local H = require "support.helpers"

-- Sends the values to an echo actor and returns what comes back, packed
-- (the message name "v" dropped).
local function round_trip(...)
  local args = table.pack(...)
  return H.run(function()
    local echo = actor.spawn(H.echo)
    actor.send(echo, "v", table.unpack(args, 1, args.n))
    local m = H.recv()
    assert(m[1] == "v", "no echo")
    return table.pack(table.unpack(m, 2, m.n))
  end)
end

-- Sends the values and returns the error the send raised.
local function refused(...)
  local args = table.pack(...)
  return H.run(function()
    local ok, err = pcall(actor.send, actor.spawn(H.idle), "v", table.unpack(args, 1, args.n))
    assert(not ok, "the send went through")
    return err
  end)
end

-- A chain of tables nested n deep: {{{...}}}.
local function nested(n)
  local t = {}
  for _ = 2, n do t = { t } end
  return t
end

describe("values", function()
  it("keep nested tables, arrays and maps", function()
    local v = { 1, 2, { 3, { 4 } }, name = "x", inner = { deep = { list = { "a", "b" } } } }
    local r = round_trip(v)
    assert.same(v, r[1])
  end)

  it("arrive as copies, not shared tables", function()
    local same = H.run(function()
      local t = { 1 }
      local echo = actor.spawn(H.echo)
      actor.send(echo, "v", t)
      local _, back = actor.receive(H.PATIENCE)
      return { rawequal(t, back), back[1] }
    end)
    assert.same({ false, 1 }, same)
  end)

  it("keep binary strings: NUL bytes and invalid UTF-8", function()
    local s = "a\0b\0\0c\255\254\192\128" .. string.rep("\0", 100)
    local r = round_trip(s, { [s] = s }, "")
    assert.equal(s, r[1])
    assert.equal(#s, #r[1])
    assert.equal(s, r[2][s])
    assert.equal("", r[3])
  end)

  it("keep a message name with NUL bytes", function()
    local name = H.run(function()
      actor.send(actor.self(), "a\0b")
      return actor.receive(H.PATIENCE)
    end)
    assert.equal("a\0b", name)
  end)

  it("keep integers and floats apart", function()
    local r = round_trip(1, 1.0, -0.0, 2 ^ 53, math.maxinteger, math.mininteger, 1e308, -1.5)
    assert.equal("integer", math.type(r[1]))
    assert.equal("float", math.type(r[2]))
    assert.equal("float", math.type(r[3]))
    assert.equal("-0.0", tostring(r[3]))
    assert.equal("float", math.type(r[4]))
    assert.equal(math.maxinteger, r[5])
    assert.equal("integer", math.type(r[5]))
    assert.equal(math.mininteger, r[6])
    assert.equal(1e308, r[7])
    assert.equal(-1.5, r[8])
  end)

  it("keep infinities and NaN", function()
    local r = round_trip(math.huge, -math.huge, 0 / 0)
    assert.equal(math.huge, r[1])
    assert.equal(-math.huge, r[2])
    assert.is_true(r[3] ~= r[3])
  end)

  it("keep integer and float keys apart in tables", function()
    local r = round_trip({ [1] = "int", [1.5] = "float", [-3] = "neg", [true] = "bool" })
    assert.same({ [1] = "int", [1.5] = "float", [-3] = "neg", [true] = "bool" }, r[1])
  end)

  it("keep booleans", function()
    local r = round_trip(true, false, { t = true, f = false })
    assert.same({ true, false, { t = true, f = false }, n = 3 }, r)
  end)

  it("keep nil holes in argument lists (select('#'))", function()
    local r = round_trip(nil, 1, nil, nil)
    assert.equal(4, r.n)
    assert.same({ nil, 1, nil, nil, n = 4 }, r)
    local none = round_trip()
    assert.equal(0, none.n)
  end)

  it("keep an array with holes as a map with the same keys", function()
    local r = round_trip({ 1, nil, 3 }, { [2] = "b" })
    assert.equal(1, r[1][1])
    assert.is_nil(r[1][2])
    assert.equal(3, r[1][3])
    assert.same({ [2] = "b" }, r[2])
  end)

  it("copy a table reached twice (no cycle) twice", function()
    local shared = { "s" }
    local r = round_trip({ shared, shared, x = shared })
    assert.same({ { "s" }, { "s" }, x = { "s" } }, r[1])
  end)

  it("drop metatables", function()
    local r = round_trip(setmetatable({ 1 }, { __index = function() return "meta" end }))
    assert.is_nil(getmetatable(r[1]))
    assert.is_nil(r[1].anything)
  end)

  it("take tables nested up to the limit (30)", function()
    local r = round_trip(nested(30))
    local depth, t = 0, r[1]
    while type(t) == "table" do depth, t = depth + 1, t[1] end
    assert.equal(30, depth)
  end)

  it("keep large strings and large tables", function()
    local big = string.rep("x", 1 << 20)
    local list = {}
    for i = 1, 10000 do list[i] = i end
    local r = round_trip(big, list)
    assert.equal(big, r[1])
    assert.same(list, r[2])
  end)
end)

describe("pids", function()
  it("print as <pid N.G>", function()
    local s = H.run(function() return tostring(actor.self()) end)
    assert.matches("^<pid %d+%.%d+>$", s)
  end)

  it("compare by value after a round trip, and order", function()
    local r = H.run(function()
      local me = actor.self()
      local other = actor.spawn(H.idle)
      actor.send(actor.spawn(H.echo), "v", me, { owner = me })
      local _, back, t = actor.receive(H.PATIENCE)
      return { back == me, t.owner == me, back ~= other, (me < other) ~= (other < me) }
    end)
    assert.same({ true, true, true, true }, r)
  end)

  it("work as table keys after a round trip", function()
    local r = H.run(function()
      local me = actor.self()
      local other = actor.spawn(H.idle)
      local counts = { [me] = 1, [other] = 2 }
      actor.send(actor.spawn(H.echo), "v", me, other, { [me] = "key" })
      local _, a, b, t = actor.receive(H.PATIENCE)
      return { counts[a], counts[b], t[me] }
    end)
    assert.same({ 1, 2, "key" }, r)
  end)

  -- A newer actor in the slot of an older one whose pid is still held:
  -- each pid stays one value.
  it("keep their identity when an actor's slot is reused", function()
    local r = H.run(function()
      local echo = actor.spawn(H.echo)
      local held = { old = actor.spawn(H.idle) } -- dropped below
      -- A freed slot rests until 4096 are free: that many more go after it.
      local many = {}
      for i = 1, 4096 do many[i] = actor.spawn(H.idle) end
      actor.send(held.old, "stop")
      H.await_down(held.old)
      for i = 1, #many do actor.send(many[i], "stop") end
      for _ = 1, #many do
        actor.monitor(many[#many])
        assert(actor.receive(H.PATIENCE) == "down")
        many[#many] = nil
      end
      local new = actor.spawn(H.idle)
      local slot = function(pid) return tostring(pid):match("<pid (%d+)%.") end
      assert(slot(held.old) == slot(new), "the slot was not reused")
      actor.send(echo, "v", held.old, new)
      local _, a, b = actor.receive(H.PATIENCE)
      local same = { rawequal(a, held.old), rawequal(b, new), a ~= b }
      held.old, a = nil, false -- the older is collected: the newer stays found
      collectgarbage()
      collectgarbage()
      actor.send(echo, "v", new, a)
      _, b = actor.receive(H.PATIENCE)
      same[4] = rawequal(b, new)
      return same
    end)
    assert.same({ true, true, true, true }, r)
  end)

  it("are their own type, not numbers", function()
    local r = H.run(function()
      local me = actor.self()
      return { type(me), math.type(me), (getmetatable(me) or {}).__name }
    end)
    assert.same({ "userdata", nil, "pid" }, r)
  end)
end)

describe("refused values", function()
  -- The error for the value that is argument n of actor.send.
  local function bad(n, why) return ("bad argument #%d to 'actor.send' (%s)"):format(n, why) end

  it("a function", function()
    assert.matches(bad(3, "a function cannot be sent"), refused(print), 1, true)
  end)

  it("a function inside a table", function()
    assert.matches(bad(4, "a function cannot be sent (it is inside a table)"),
      refused(1, { nested = { f = function() end } }), 1, true)
  end)

  it("a coroutine", function()
    assert.matches(bad(3, "a thread cannot be sent"), refused(coroutine.create(print)), 1, true)
  end)

  it("foreign userdata (io.stdout)", function()
    assert.matches(bad(3, "a userdata cannot be sent"), refused(io.stdout), 1, true)
  end)

  it("a table that contains itself", function()
    local t = { 1 }
    t.self = t
    assert.matches(bad(3, "a table that contains itself (cycle)"), refused(t), 1, true)
  end)

  it("a longer cycle", function()
    local a, b = {}, {}
    a.b, b.a = b, a
    assert.matches("(cycle)", refused(a), 1, true)
  end)

  it("tables nested deeper than the limit", function()
    assert.matches(bad(3, "tables nested deeper than 30"), refused(nested(31)), 1, true)
  end)

  it("leaves nothing half-sent and the sender running", function()
    local r = H.run(function()
      local echo = actor.spawn(H.echo)
      local ok = pcall(actor.send, echo, "bad", 1, print)
      actor.send(echo, "good", 2)
      return { ok, H.recv() }
    end)
    assert.is_false(r[1])
    assert.same({ "good", 2, n = 2 }, r[2])
  end)
end)
