-- An error in a Lua actor ends that actor only; a busy actor is preempted;
-- one that cannot be suspended is killed past the hard limit.
local actor = require "actor"
local H = require "support.helpers"

local function pinger()
  actor.serve { ping = function() return "pong" end }
end

describe("an error in an actor", function()
  it("ends that actor only: monitors get the reason, the others run on", function()
    local r = H.run(function()
      local bystander = actor.spawn(pinger)
      local failing = actor.spawn(function() actor.receive() error("something broke") end)
      local ref = actor.monitor(failing)
      actor.send(failing, "go")
      local name, got_ref, _, reason = actor.receive(H.PATIENCE)
      return {
        name, got_ref == ref, reason,
        actor.call(bystander, "ping"), actor.alive(bystander), actor.alive(failing),
      }
    end)
    assert.equal("down", r[1])
    assert.is_true(r[2])
    assert.matches("errors_spec.lua:%d+: something broke", r[3])
    assert.same({ "pong", true, false }, { r[4], r[5], r[6] })
  end)

  it("reaches linked actors as their exit reason", function()
    local m = H.run(function()
      actor.trap_exit(true)
      local failing = actor.spawn(function() actor.receive() error("linked failure", 0) end)
      actor.link(failing)
      actor.send(failing, "go")
      return H.recv()
    end)
    assert.equal("exit", m[1])
    assert.equal("linked failure", m[3])
  end)

  it("with a non-string error value still gives a reason", function()
    local reasons = H.run(function()
      local bodies = {
        function() error({ code = 1 }) end,
        function()
          error(setmetatable({}, { __tostring = function() return "custom error" end }))
        end,
        function() error() end,
      }
      local which = {}
      for i, body in ipairs(bodies) do which[actor.monitor(actor.spawn(body))] = i end
      local reasons = {}
      for _ = 1, #bodies do
        local _, ref, _, reason = actor.receive(H.PATIENCE)
        reasons[which[ref]] = reason
      end
      return reasons
    end)
    assert.same({
      "(error object is a table value)",
      "custom error",
      "(error object is a nil value)",
    }, reasons)
  end)

  it("caught by pcall inside the actor does not end it", function()
    local r = H.run(function()
      local srv = actor.spawn(function()
        actor.serve { try = function() return pcall(error, "inner", 0) end }
      end)
      return table.pack(actor.call(srv, "try"))
    end)
    assert.same({ false, "inner", n = 2 }, r)
  end)

  it("closes the actor's to-be-closed variables", function()
    local m = H.run(function()
      local pid = actor.spawn(function(root)
        local _ <close> = setmetatable({}, { __close = function() actor.send(root, "closed") end })
        error("with a guard", 0)
      end, actor.self())
      actor.monitor(pid)
      return { H.recv()[1], H.recv()[4] }
    end)
    assert.same({ "closed", "with a guard" }, m)
  end)
end)

describe("preemption", function()
  it("lets other actors answer while one loops forever", function()
    local r = H.run(function()
      local spinner = actor.spawn(function() while true do end end)
      local srv = actor.spawn(pinger)
      local answers = {}
      for i = 1, 5 do answers[i] = actor.call_timeout(H.PATIENCE, srv, "ping") end
      local still_spinning = actor.alive(spinner)
      actor.kill(spinner)
      return { answers, still_spinning }
    end)
    assert.same({ { "pong", "pong", "pong", "pong", "pong" }, true }, r)
  end)

  it("shares the core between several busy actors", function()
    local seen = H.run(function()
      local me = actor.self()
      for id = 1, 3 do
        actor.spawn(function(root, who)
          local x = 0
          for i = 1, 3e6 do x = x + i end -- many slices of work
          actor.send(root, "done", who, x)
        end, me, id)
      end
      local got = {}
      for _ = 1, 3 do got[#got + 1] = H.expect("done", 20000) end
      table.sort(got)
      return got
    end)
    assert.same({ 1, 2, 3 }, seen)
  end)

  it("does not count a long yieldable loop against the hard limit", function()
    local alive
    H.configured({ hard_limit = 5 }, function()
      alive = H.run(function()
        local spinner = actor.spawn(function() while true do end end)
        local srv = actor.spawn(pinger)
        for _ = 1, 20 do actor.call(srv, "ping") end -- many of its slices pass
        local ok = actor.alive(spinner)
        actor.kill(spinner)
        return ok
      end)
    end)
    assert.is_true(alive)
  end)

  it("treats a bare coroutine.yield as letting others run", function()
    local m = H.run(function()
      local me = actor.self()
      actor.spawn(function(root)
        coroutine.yield()
        actor.send(root, "after yield")
      end, me)
      return H.recv()[1]
    end)
    assert.equal("after yield", m)
  end)
end)

describe("a runaway actor", function()
  -- hard_limit counts slices (of `slice` instructions) run where the actor
  -- cannot be suspended; a small one keeps these specs fast.
  local function runaway_reason(body)
    local reason, answer
    H.configured({ hard_limit = 20 }, function()
      reason, answer = H.run(function()
        local bystander = actor.spawn(pinger)
        local stuck = actor.spawn(body)
        return H.await_down(stuck, 20000), actor.call(bystander, "ping")
      end)
    end)
    assert.equal("pong", answer) -- the host ran on
    return reason
  end

  it("stuck in table.sort's comparator is killed as runaway", function()
    local reason = runaway_reason(function()
      table.sort({ 3, 1, 2 }, function() while true do end end)
    end)
    assert.matches("runaway actor killed: %d+ instructions without yielding", reason)
  end)

  it("stuck in string.gsub's callback is killed as runaway", function()
    local reason = runaway_reason(function()
      string.gsub("abc", ".", function() while true do end end)
    end)
    assert.matches("runaway actor killed", reason, 1, true)
  end)

  it("stuck in a coroutine of its own is killed as runaway", function()
    local reason = runaway_reason(function()
      coroutine.wrap(function() while true do end end)()
    end)
    assert.matches("runaway actor killed", reason, 1, true)
  end)

  it("is killed even if it catches the error and goes on", function()
    local reason = runaway_reason(function()
      pcall(table.sort, { 3, 1, 2 }, function() while true do end end)
      while true do end -- would otherwise spin on, preempted, forever
    end)
    assert.matches("runaway actor killed", reason, 1, true)
  end)

  it("is killed even if it catches the error and waits for mail", function()
    local reason = runaway_reason(function()
      pcall(string.gsub, "x", ".", function() while true do end end)
      actor.receive()
    end)
    assert.matches("runaway actor killed", reason, 1, true)
  end)
end)
