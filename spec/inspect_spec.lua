-- actor.info, actor.list, actor.stats' per-host figures, and a supervisor's
-- which_children and count_children: each field checked against actors
-- whose state the spec knows. An actor is looked at once it is seen
-- waiting (polled with a deadline, as it reaches its wait on its own).
local actor = require "actor"
local H = require "support.helpers"

-- Polls info(pid) until pred holds, at most H.PATIENCE ms; returns it.
local function wait_info(pid, pred)
  local deadline = actor.now() + H.PATIENCE
  local info = actor.info(pid)
  while not (info and pred(info)) and actor.now() < deadline do
    actor.sleep(1)
    info = actor.info(pid)
  end
  return info
end

local function waiting(info) return info.status == "waiting" end

-- The line after the caller's, as a where field names it.
local function next_line()
  return "inspect_spec.lua:" .. (debug.getinfo(2, "l").currentline + 1)
end

describe("actor.info", function()
  it("shows a Lua actor waiting in receive, with where it waits", function()
    local info, line = H.run(function()
      local root = actor.self()
      local p = actor.spawn(function()
        actor.send(root, "line", next_line())
        actor.receive()
      end)
      local line = H.expect("line")
      return wait_info(p, waiting), line, p
    end)
    assert.equal("lua", info.kind)
    assert.equal("waiting", info.status)
    assert.equal("receive", info.waiting)
    assert.matches(line .. "$", info.where)
    assert.matches("inspect_spec.lua:%d+$", info.func)
    assert.equal(0, info.host)
    assert.equal(0, info.mailbox)
    assert.is_nil(info.name)
    assert.is_nil(info.supervisor)
  end)

  it("shows the calling actor running, its name, and what it has handled", function()
    local info, me, run_ns, untimed = H.run(function()
      local untimed = actor.info(actor.whereis("router")).run_ns
      actor.timing(true)
      actor.register("looker", actor.self())
      actor.send(actor.self(), "one")
      actor.send(actor.self(), "two")
      actor.receive()
      actor.receive()
      local first = actor.info(actor.self())
      -- run_ns counts the turns that are over, begun with timing on
      actor.sleep(0)
      actor.sleep(0)
      return first, actor.self(), actor.info(actor.self()).run_ns, untimed
    end)
    assert.equal(me, info.pid)
    assert.equal("looker", info.name)
    assert.equal("running", info.status)
    assert.is_nil(info.waiting)
    assert.is_nil(info.where)
    assert.is_true(info.handled >= 2)
    assert.is_true(run_ns > 0)
    assert.equal(0, untimed) -- timing is off until asked for
    assert.equal(1024, info.capacity)
  end)

  it("shows an actor in a call, and on whom it waits", function()
    local info, callee, line = H.run(function()
      local root = actor.self()
      local silent = actor.spawn(function() actor.receive() actor.receive() end)
      local caller = actor.spawn(function()
        actor.send(root, "line", next_line())
        actor.call(silent, "hello")
      end)
      local line = H.expect("line")
      return wait_info(caller, waiting), silent, line
    end)
    assert.equal("call", info.waiting)
    assert.equal(callee, info.waits_on)
    assert.matches(line .. "$", info.where)
  end)

  it("shows an actor in a sleep, its mailbox filling", function()
    local info, bytes = H.run(function()
      local p = actor.spawn(function() actor.sleep(60000) end)
      wait_info(p, waiting)
      for i = 1, 50 do actor.send(p, "work", i, string.rep("x", 100)) end
      return actor.info(p), actor.stats().mailbox_bytes
    end)
    assert.equal("waiting", info.status)
    assert.equal("sleep", info.waiting)
    assert.equal(50, info.mailbox)
    assert.equal(50, info.queued)
    assert.is_true(info.mailbox_bytes >= 50 * 100)
    assert.is_true(bytes >= info.mailbox_bytes)
    assert.equal(0, info.handled)
  end)

  it("names the module and function a Lua actor was started by", function()
    package.preload["inspect_mod"] = function()
      return { start = function() actor.receive() end }
    end
    local info, plain = H.run(function()
      local p = actor.spawn { module = "inspect_mod", fn = "start" }
      return actor.info(p), actor.info(actor.spawn(function() actor.receive() end))
    end)
    package.preload["inspect_mod"], package.loaded["inspect_mod"] = nil, nil
    assert.equal("inspect_mod.start", info.module)
    assert.equal("lua", info.kind)
    assert.matches("inspect_spec.lua:%d+$", info.func)
    assert.is_nil(plain.module)
  end)

  it("shows a native actor, the router", function()
    local info = H.run(function() return actor.info(actor.whereis("router")) end)
    assert.equal("router", info.kind)
    assert.equal("router", info.name)
    assert.is_nil(info.func)
    assert.is_nil(info.memory)
  end)

  it("estimates the memory an actor's locals hold", function()
    local small, big = H.run(function()
      local root = actor.self()
      local function holder(n)
        return function()
          local t = {}
          for i = 1, n do t[i] = string.rep("y", 100) .. i end
          actor.send(root, "ready")
          actor.receive()
          return #t
        end
      end
      local a, b = actor.spawn(holder(1)), actor.spawn(holder(1000))
      H.expect("ready")
      H.expect("ready")
      return wait_info(a, waiting).memory, wait_info(b, waiting).memory
    end)
    assert.is_true(small >= 1024)
    assert.is_true(big >= small + 1000 * 100)
  end)

  it("gives nil for a dead pid and refuses what is not a pid", function()
    local info, why = H.run(function()
      local p = actor.spawn(function() end)
      actor.monitor(p)
      H.expect("down")
      return actor.info(p)
    end)
    assert.is_nil(info)
    assert.equal("no such actor", why)
    local ok, err = pcall(actor.info, "x")
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'actor.info' (pid expected, got string)", err, 1, true)
  end)
end)

describe("actor.list", function()
  it("lists every actor of the host, oldest first", function()
    local list, me, p = H.run(function()
      local p = actor.spawn(function() actor.receive() end)
      return actor.list(), actor.self(), p
    end)
    local pids = {}
    for i, info in ipairs(list) do pids[tostring(info.pid)] = i end
    assert.is_not_nil(pids[tostring(me)])
    assert.is_true(pids[tostring(me)] < pids[tostring(p)])
    assert.equal(H.run(function() return #actor.list() end), #list - 1)
  end)

  it("in a host of its own, answers for it alone, with nothing missing", function()
    local n, missing, only, stats, smissing, bad = H.run(function()
      local list, missing = actor.list()
      local s, sm = actor.stats { node = true }
      return #list, missing, #actor.list { host = 0, timeout = 10 }, s, sm,
        select(2, pcall(actor.list, { host = 1 }))
    end)
    assert.is_nil(missing)
    assert.equal(n, only)
    assert.equal(1, stats.hosts)
    assert.is_nil(smissing)
    assert.matches("bad argument #1 to 'actor.list' (host must be 0..0, got 1)", bad, 1, true)
  end)
end)

describe("actor.stats", function()
  it("gives the ready queue, messages per second and memory", function()
    local st, delivered = H.run(function()
      local p = actor.spawn(H.echo)
      local start = actor.now()
      local n = 0
      -- a second of round trips: the rate is over at least one second
      while actor.now() - start < 1100 do
        actor.send(p, "ping")
        H.expect("ping")
        n = n + 1
      end
      return actor.stats(), n
    end)
    assert.is_true(st.per_second > 0)
    assert.is_true(st.per_second <= 2 * delivered + 10)
    assert.is_true(st.lua_memory > 0)
    assert.equal(0, st.mailbox_bytes)
    assert.is_number(st.ready)
  end)
end)

describe("a supervisor", function()
  it("marks its children and answers which_children and count_children", function()
    local r = H.run(function()
      local root = actor.self()
      local sup = actor.supervise {
        children = {
          { name = "kid", start = function()
            actor.send(root, "up", actor.self())
            actor.receive()
          end },
          { name = "once", restart = "temporary", start = function() actor.receive() end },
        },
      }
      local first = H.expect("up")
      local r = { sup = sup, before = actor.info(first) }
      actor.kill(first, "crash")
      r.pid = H.expect("up")
      r.after = actor.info(r.pid)
      actor.kill(actor.whereis("once"), "crash")
      r.which = actor.call(sup, "which_children")
      r.count = actor.call(sup, "count_children")
      return r
    end)
    assert.equal(r.sup, r.before.supervisor)
    assert.equal(0, r.before.restarts)
    assert.equal(r.sup, r.after.supervisor)
    assert.equal(1, r.after.restarts)
    assert.equal("kid", r.after.name)
    assert.same({ name = "kid", pid = r.pid, restart = "permanent", type = "worker",
                  kind = "lua", restarts = 1 }, r.which[1])
    assert.same({ name = "once", restart = "temporary", type = "worker", restarts = 0 },
      r.which[2])
    assert.same({ specs = 2, active = 1, supervisors = 0, workers = 2 }, r.count)
  end)
end)
