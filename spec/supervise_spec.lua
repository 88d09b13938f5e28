-- actor.supervise and actor.heartbeat: child specs, strategies, restart
-- policies, restart intensity, heartbeat cutoffs. Children tell the root
-- actor "up"(name, pid) as they start, so restarts are seen as messages;
-- the supervisor's children() call, which it answers after the exits
-- queued before it, shows who runs. Sleeps appear only where time passing
-- is the behaviour under test (a heartbeat cutoff), with a margin.
local actor = require "actor"
local H = require "support.helpers"

-- A child that says it is up, then waits for a command: "crash" fails,
-- "return" ends normally, anything else is ignored.
local function child(root, name)
  return function()
    actor.send(root, "up", name, actor.self())
    while true do
      local cmd = actor.receive()
      if cmd == "crash" then error(name .. " crashed on purpose", 0) end
      if cmd == "return" then return end
    end
  end
end

local function specs(root, names, extra)
  local list = {}
  for i, name in ipairs(names) do
    list[i] = { name = name, start = child(root, name) }
    for k, v in pairs(extra and extra[name] or {}) do list[i][k] = v end
  end
  return list
end

-- Waits for n "up" messages; returns {name = pid} and the names in order.
local function ups(n)
  local pids, order = {}, {}
  for _ = 1, n do
    local name, pid = H.expect("up")
    pids[name], order[#order + 1] = pid, name
  end
  return pids, order
end

-- The supervisor's view: name -> tostring(pid) ("<pid 0.0>" when down).
local function children(sup)
  local r, t = table.pack(actor.call(sup, "children")), {}
  for i = 1, r.n, 2 do t[r[i]] = tostring(r[i + 1]) end
  return t
end

-- Burns CPU for `ms` ms of process time (so at least as much wall time),
-- calling between(), if given, as it goes.
local function busy(ms, between)
  local t0 = os.clock()
  while (os.clock() - t0) * 1000 < ms do
    for _ = 1, 2000 do end
    if between then between() end
  end
end

describe("actor.supervise", function()
  it("starts the children in order, each registered under its name", function()
    H.run(function()
      local sup = actor.supervise{ children = specs(actor.self(), { "a", "b", "c" }) }
      local pids, order = ups(3)
      assert.same({ "a", "b", "c" }, order)
      for _, name in ipairs(order) do
        assert.equal(tostring(pids[name]), tostring(actor.whereis(name)))
      end
      assert.same({ a = tostring(pids.a), b = tostring(pids.b), c = tostring(pids.c) },
        children(sup))
    end)
  end)

  it("stops the children in reverse order when it ends", function()
    local order = H.run(function()
      actor.trap_exit(true)
      local sup = actor.supervise{ children = specs(actor.self(), { "a", "b", "c" }) }
      local pids = ups(3)
      local names = {}
      for name, pid in pairs(pids) do names[actor.monitor(pid)] = name end
      actor.kill(sup, "test over")
      local order = {}
      for _ = 1, 4 do
        local m = H.recv()
        if m[1] == "down" then order[#order + 1] = names[m[2]] end
      end
      for name in pairs(pids) do assert.is_nil(actor.whereis(name)) end
      return order
    end)
    assert.same({ "c", "b", "a" }, order)
  end)

  -- Kills b; returns which of a, b, c have a new pid afterwards.
  local function restarted_after_crash(strategy, expected_ups)
    return H.run(function()
      local sup = actor.supervise{ strategy = strategy,
        children = specs(actor.self(), { "a", "b", "c" }) }
      local before = ups(3)
      actor.kill(before.b, "boom")
      local again, order = ups(expected_ups)
      local now, changed = children(sup), {}
      for _, name in ipairs({ "a", "b", "c" }) do
        if now[name] ~= tostring(before[name]) then changed[#changed + 1] = name end
        assert.equal(now[name], tostring(actor.whereis(name)))
        if again[name] then assert.equal(now[name], tostring(again[name])) end
      end
      return changed, order
    end)
  end

  it("one_for_one restarts only the child that failed", function()
    local changed = restarted_after_crash("one_for_one", 1)
    assert.same({ "b" }, changed)
  end)

  it("one_for_all restarts every child, in order", function()
    local changed, order = restarted_after_crash("one_for_all", 3)
    assert.same({ "a", "b", "c" }, changed)
    assert.same({ "a", "b", "c" }, order)
  end)

  it("rest_for_one restarts the child that failed and those started after it", function()
    local changed, order = restarted_after_crash("rest_for_one", 2)
    assert.same({ "b", "c" }, changed)
    assert.same({ "b", "c" }, order)
  end)

  it("follows each child's restart policy", function()
    local got = H.run(function()
      local root = actor.self()
      local sup = actor.supervise{ children = specs(root, { "perm", "trans", "temp", "trans2" }, {
        trans = { restart = "transient" },
        trans2 = { restart = "transient" },
        temp = { restart = "temporary" },
      }) }
      local first = ups(4)
      local again = {} -- who came up again, meanwhile
      local function ends(name, how)
        local ref = actor.monitor(first[name])
        actor.send(first[name], how)
        while true do
          local m = H.recv()
          if m[1] == "up" then
            again[m[2]] = m[3]
          else
            assert(m[1] == "down" and m[2] == ref, "no down message for " .. name)
            return
          end
        end
      end
      ends("perm", "return") -- permanent: restarted even after a normal end
      ends("trans", "return") -- transient: not after a normal end ...
      ends("trans2", "crash") -- ... but after a crash
      ends("temp", "crash") -- temporary: never
      local now = children(sup) -- answered after the exits before it
      for name, pid in pairs(ups(2 - (again.perm and 1 or 0) - (again.trans2 and 1 or 0))) do
        again[name] = pid
      end
      return {
        perm = now.perm == tostring(again.perm) and now.perm ~= tostring(first.perm),
        trans = now.trans,
        trans2 = now.trans2 == tostring(again.trans2),
        temp = now.temp,
        trans_name = actor.whereis("trans"),
        temp_name = actor.whereis("temp"),
      }
    end)
    assert.is_true(got.perm)
    assert.equal("<pid 0.0>", got.trans)
    assert.is_true(got.trans2)
    assert.equal("<pid 0.0>", got.temp)
    assert.is_nil(got.trans_name)
    assert.is_nil(got.temp_name)
  end)

  it("restarts a child on demand with restart(name)", function()
    H.run(function()
      local sup = actor.supervise{ children = specs(actor.self(), { "a" }) }
      local before = ups(1)
      assert.equal("ok", actor.call(sup, "restart", "a"))
      local after = ups(1)
      assert.are_not.equal(tostring(before.a), tostring(after.a))
      assert.is_false(actor.alive(before.a))
      assert.matches("no such child", select(2, pcall(actor.call, sup, "restart", "nobody")))
    end)
  end)

  it("gives up past its restart intensity; a linked caller that traps exits is told", function()
    local reason, alive = H.run(function()
      actor.trap_exit(true)
      local sup = actor.supervise{ intensity = 3, period = 10000,
        children = specs(actor.self(), { "a" }) }
      local pids = ups(1)
      for _ = 1, 3 do -- three restarts are within the intensity
        actor.send(pids.a, "crash")
        pids = ups(1)
      end
      assert.is_true(actor.alive(sup))
      actor.send(pids.a, "crash") -- the fourth is one too many
      local who, why = H.expect("exit")
      assert.equal(tostring(sup), tostring(who))
      return why, actor.alive(sup)
    end)
    assert.equal("restart intensity exceeded", reason)
    assert.is_false(alive)
  end)

  it("gives up on a child that crashes at once; a linked caller not trapping exits ends", function()
    local reason = H.run(function()
      local pid = actor.spawn(function()
        actor.supervise{ intensity = 2, period = 5000, children = {
          { name = "doomed", start = function() error("fails at once", 0) end },
        } }
        actor.receive() -- the supervisor's end takes this actor along
      end)
      return H.await_down(pid)
    end)
    assert.equal("restart intensity exceeded", reason)
  end)

  it("refuses a bad spec before starting anything, naming the bad field", function()
    local function spec(fields, top)
      local t = { children = { { name = "x", start = H.idle } } }
      for k, v in pairs(fields or {}) do t.children[1][k] = v end
      for k, v in pairs(top or {}) do t[k] = v end
      return t
    end
    local bad = {
      { { strategy = "sideways", children = {} },
        "strategy must be one of one_for_one one_for_all rest_for_one, got 'sideways'" },
      { spec(nil, { intensity = 0 }), "intensity must be a count of restarts, 1..1000000 " ..
        "(for none, make the children temporary), got 0" },
      { spec(nil, { intensity = 2.5 }), "intensity must be a count of restarts, 1..1000000 " ..
        "(for none, make the children temporary), got 2.5" },
      { spec(nil, { period = -1 }), "period must be 1..2147483647 ms, got -1" },
      { spec(nil, { period = 0 / 0 }), "period must be 1..2147483647 ms, got nan" },
      { spec(nil, { stratgy = "one_for_all" }), "unknown field 'stratgy'" },
      { {}, "children must be a list of child specs, got nil" },
      { { children = { a = {} } }, "children must be a list of child specs, got a key 'a'" },
      { { children = { "x" } }, "children[1] must be a child spec (a table), got 'x'" },
      { { children = { { start = H.idle } } },
        "children[1].name must be a string of 1..255 bytes without NUL, got nil" },
      { { children = { { name = "x" } } }, "children[1].start must be a function, got nil" },
      { { children = { { name = "x", start = H.idle }, { name = "y", start = H.idle },
          { name = "x", start = H.idle } } },
        "children[3].name 'x' is already the name of children[1]" },
      { spec { restart = "sometimes" },
        "children[1].restart must be one of permanent transient temporary, got 'sometimes'" },
      { spec { heartbeat = 0 }, "children[1].heartbeat must be 1..2147483647 ms, got 0" },
      { spec { heartbeat = false }, "children[1].heartbeat must be 1..2147483647 ms, got false" },
      { spec { cutoff = 0 }, "children[1].cutoff must be false or 1..2147483647 ms, got 0" },
      { spec { cutoff = true }, "children[1].cutoff must be false or 1..2147483647 ms, got true" },
      { spec { cutoff = 2 ^ 31 },
        "children[1].cutoff must be false or 1..2147483647 ms, got 2147483648.0" },
      { spec { cutof = 500 }, "children[1] has an unknown field 'cutof'" },
    }
    H.run(function()
      local before = actor.stats().actors
      for _, case in ipairs(bad) do
        local ok, err = pcall(actor.supervise, case[1])
        assert.is_false(ok)
        assert.equal("bad argument #1 to 'actor.supervise' (" .. case[2] .. ")", err)
      end
      assert.is_nil(actor.whereis("x"))
      assert.equal(before, actor.stats().actors) -- nothing started
    end)
  end)

  it("takes fractions of a millisecond for heartbeat, cutoff and period", function()
    H.run(function()
      local sup = actor.supervise{ period = 5000.5, children = specs(actor.self(), { "a" }, {
        a = { heartbeat = 20.5, cutoff = 300.25 },
      }) }
      local pids = ups(1)
      assert.equal(tostring(pids.a), children(sup).a)
    end)
  end)
end)

describe("heartbeats", function()
  local HEARTBEAT, CUTOFF = 20, 200
  -- The safety net for work of 2 * CUTOFF ms of CPU time on a loaded machine.
  local SLOW = 30000

  it("restart a child that stops taking its mail, once past its cutoff", function()
    local reason = H.run(function()
      local root = actor.self()
      actor.supervise{ children = { { name = "stuck", heartbeat = HEARTBEAT, cutoff = CUTOFF,
        start = function()
          actor.send(root, "up", "stuck", actor.self())
          if actor.receive() == "hang" then
            while true do end -- no receive, no heartbeat
          end
          actor.receive()
        end } } }
      local first = ups(1)
      local ref = actor.monitor(first.stuck)
      actor.send(first.stuck, "hang")
      actor.send(first.stuck, "mail it will never take")
      -- not before the cutoff (a margin under it) ...
      assert.equal(0, H.recv(CUTOFF // 2).n)
      assert.is_true(actor.alive(first.stuck))
      -- ... but soon after it
      local m = H.recv()
      assert.same({ "down", ref }, { m[1], m[2] })
      local again = ups(1)
      assert.are_not.equal(tostring(first.stuck), tostring(again.stuck))
      return m[4]
    end)
    assert.equal("heartbeat timeout", reason)
  end)

  it("leave a busy child alone while it calls actor.heartbeat", function()
    local same = H.run(function()
      local root = actor.self()
      local sup = actor.supervise{ children = { { name = "worker", heartbeat = HEARTBEAT,
        cutoff = CUTOFF, start = function()
          actor.send(root, "up", "worker", actor.self())
          actor.receive()
          busy(2 * CUTOFF, actor.heartbeat) -- long work, showing life
          actor.send(root, "finished", actor.self())
          actor.receive()
        end } } }
      local first = ups(1)
      actor.send(first.worker, "go")
      local who = H.expect("finished", SLOW)
      return tostring(who) == tostring(first.worker) and
        children(sup).worker == tostring(first.worker)
    end)
    assert.is_true(same)
  end)

  it("leave a busy child alone while it keeps taking messages", function()
    local same = H.run(function()
      local root = actor.self()
      local sup = actor.supervise{ children = { { name = "server", heartbeat = HEARTBEAT,
        cutoff = CUTOFF, start = function()
          actor.send(root, "up", "server", actor.self())
          while true do
            local cmd = actor.receive()
            if cmd == "work" then busy(5) end -- each message a bit of work
            if cmd == "report" then actor.send(root, "finished", actor.self()) end
          end
        end } } }
      local first = ups(1)
      for _ = 1, (2 * CUTOFF) // 5 do actor.send(first.server, "work") end
      actor.send(first.server, "report")
      local who = H.expect("finished", SLOW)
      return tostring(who) == tostring(first.server) and
        children(sup).server == tostring(first.server)
    end)
    assert.is_true(same)
  end)

  it("restart the same busy child when it does not call actor.heartbeat", function()
    local reason = H.run(function()
      local root = actor.self()
      actor.supervise{ children = { { name = "worker", heartbeat = HEARTBEAT, cutoff = CUTOFF,
        start = function()
          actor.send(root, "up", "worker", actor.self())
          actor.receive()
          busy(2 * CUTOFF)
          actor.send(root, "finished", actor.self())
          actor.receive()
        end } } }
      local first = ups(1)
      local ref = actor.monitor(first.worker)
      actor.send(first.worker, "go")
      local m = H.recv(SLOW)
      assert.same({ "down", ref }, { m[1], m[2] })
      ups(1)
      return m[4]
    end)
    assert.equal("heartbeat timeout", reason)
  end)

  it("actor.heartbeat needs an actor", function()
    assert.matches("only an actor can do this", select(2, pcall(actor.heartbeat)))
  end)
end)

describe("the liveness check turned off (cutoff = false)", function()
  local HEARTBEAT, CUTOFF = 20, 200

  -- A child that, told "hang", loops forever: mail waits, none is taken.
  local function hanging(root, name)
    return function()
      actor.send(root, "up", name, actor.self())
      if actor.receive() == "hang" then
        while true do end
      end
      actor.receive()
    end
  end

  it("leaves a child with mail it does not take running, where a checked one is restarted",
    function()
      local r = H.run(function()
        local root = actor.self()
        local sup = actor.supervise{ intensity = 10, children = {
          { name = "checked", heartbeat = HEARTBEAT, cutoff = CUTOFF,
            start = hanging(root, "checked") },
          { name = "unchecked", heartbeat = HEARTBEAT, cutoff = false,
            start = hanging(root, "unchecked") },
        } }
        local first = ups(2)
        actor.send(first.unchecked, "hang")
        actor.send(first.unchecked, "mail it will never take")
        -- the checked child hangs twice, each time restarted past its
        -- cutoff: by then the unchecked one has hung past two cutoffs
        local pid = first.checked
        for _ = 1, 2 do
          local ref = actor.monitor(pid)
          actor.send(pid, "hang")
          actor.send(pid, "mail it will never take")
          local name, got_ref, _, reason = actor.receive(30000)
          assert.same({ "down", ref, "heartbeat timeout" }, { name, got_ref, reason })
          pid = ups(1).checked
        end
        return {
          alive = actor.alive(first.unchecked),
          same = children(sup).unchecked == tostring(first.unchecked),
        }
      end)
      assert.same({ alive = true, same = true }, r)
    end)
end)
