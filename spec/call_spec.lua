-- actor.call, actor.call_timeout, actor.reply, actor.reply_error,
-- actor.calling, actor.serve and actor.forward.
local actor = require "actor"
local H = require "support.helpers"

-- A server that answers sq(x) with x * x, echo(...) with its arguments,
-- and never answers "ignore".
local function server()
  actor.serve {
    sq = function(x) return x * x end,
    echo = function(...) return ... end,
    ignore = function() actor.receive() end, -- keeps the caller waiting
  }
end

-- A callee that dies on the first message it gets.
local function dies_on_mail()
  actor.receive()
  error("callee crashed", 0)
end

describe("actor.call", function()
  it("returns the reply's values", function()
    local a, b = H.run(function()
      local srv = actor.spawn(server)
      return actor.call(srv, "sq", 12), actor.call(srv, "sq", 1.5)
    end)
    assert.equal(144, a)
    assert.equal(2.25, b)
  end)

  it("keeps nil holes and the number of values", function()
    local r = H.run(function()
      local srv = actor.spawn(server)
      return table.pack(actor.call(srv, "echo", nil, 2, nil, nil))
    end)
    assert.same({ nil, 2, nil, nil, n = 4 }, r)
  end)

  it("calls by registered name", function()
    local r = H.run(function()
      actor.register("squarer", actor.spawn(server))
      return actor.call("squarer", "sq", 3)
    end)
    assert.equal(9, r)
  end)

  it("errors for a name nobody registered", function()
    local ok, err = H.run(function() return pcall(actor.call, "no-server", "x") end)
    assert.is_false(ok)
    assert.matches("no actor is registered as 'no-server'", err, 1, true)
  end)

  it("fails at once for a dead pid", function()
    local ok, err = H.run(function()
      local pid = actor.spawn(function() end)
      H.await_down(pid)
      return pcall(actor.call, pid, "x")
    end)
    assert.is_false(ok)
    assert.matches("call 'x' to <pid %d+%.%d+> failed: no such actor", err)
  end)

  it("fails at once when the callee dies, long before the timeout", function()
    local ok, err, early = H.run(function()
      actor.after(2000, "too-late") -- would be queued had the call waited 10 s
      local ok, err = pcall(actor.call_timeout, 10000, actor.spawn(dies_on_mail), "work")
      return ok, err, actor.receive(0) == nil
    end)
    assert.is_false(ok)
    assert.matches("failed: down: callee crashed", err, 1, true)
    assert.is_true(early)
  end)

  it("fails at once when the callee is killed while it works on the call", function()
    local ok, err = H.run(function()
      local srv = actor.spawn(server)
      local killer = actor.spawn(function(victim)
        actor.receive() -- "go": the call is in the server's hands by now
        actor.kill(victim, "stopped by test")
      end, srv)
      actor.send(killer, "go")
      return pcall(actor.call, srv, "ignore")
    end)
    assert.is_false(ok)
    assert.matches("down: stopped by test", err, 1, true)
  end)

  it("times out after the default timeout (actor.configure call_timeout)", function()
    local ok, err, early
    H.configured({ call_timeout = 50 }, function()
      ok, err, early = H.run(function()
        actor.after(3000, "too-late")
        local ok2, err2 = pcall(actor.call, actor.spawn(server), "ignore")
        return ok2, err2, actor.receive(0) == nil
      end)
    end)
    assert.is_false(ok)
    assert.matches("call 'ignore' to <pid %d+%.%d+> failed: timeout", err)
    assert.is_true(early)
  end)

  it("has a default timeout of 5 s", function()
    assert.equal(5000, actor.configure().call_timeout)
  end)

  it("raises the text of an error reply", function()
    local ok, err = H.run(function()
      local srv = actor.spawn(function()
        actor.receive()
        actor.reply_error("not today")
        actor.receive()
      end)
      return pcall(actor.call, srv, "please")
    end)
    assert.is_false(ok)
    assert.matches("call 'please' to <pid %d+%.%d+> failed: not today", err)
  end)

  it("needs a message name", function()
    local ok = H.run(function() return pcall(actor.call, actor.spawn(server)) end)
    assert.is_false(ok)
  end)

  it("refuses values that cannot be sent, at the caller", function()
    local ok, err = H.run(function()
      return pcall(actor.call, actor.spawn(server), "echo", coroutine.create(print))
    end)
    assert.is_false(ok)
    assert.matches("bad argument #3 to 'actor.call' (a thread cannot be sent)", err, 1, true)
  end)
end)

describe("actor.call_timeout", function()
  it("returns the reply within its timeout", function()
    local r = H.run(function() return actor.call_timeout(1000, actor.spawn(server), "sq", 5) end)
    assert.equal(25, r)
  end)

  it("fails with timeout when no reply comes in time", function()
    local ok, err, early = H.run(function()
      actor.after(3000, "too-late")
      local ok, err = pcall(actor.call_timeout, 30, actor.spawn(server), "ignore")
      return ok, err, actor.receive(0) == nil
    end)
    assert.is_false(ok)
    assert.matches("failed: timeout", err, 1, true)
    assert.is_true(early)
  end)

  it("drops the reply that comes after the timeout, counting it late", function()
    local ok, late, next_msg = H.run(function()
      local srv = actor.spawn(function()
        actor.receive()
        actor.sleep(100) -- a slow server: the caller gives up after 20 ms
        actor.reply("too late")
      end)
      local before = actor.stats().late_replies
      local ok = pcall(actor.call_timeout, 20, srv, "slow")
      H.await_down(srv)
      return ok, actor.stats().late_replies - before, actor.receive(0)
    end)
    assert.is_false(ok)
    assert.equal(1, late)
    assert.is_nil(next_msg) -- the late reply never shows up as mail
  end)

  it("refuses a timeout out of range", function()
    local r = table.pack(H.run(function()
      local srv = actor.spawn(server)
      return pcall(actor.call_timeout, -1, srv, "sq", 1),
        pcall(actor.call_timeout, 0x1000000, srv, "sq", 1),
        pcall(actor.call_timeout, "soon", srv, "sq", 1)
    end))
    assert.is_false(r[1])
    assert.is_false(r[2])
    assert.is_false(r[3])
  end)
end)

describe("actor.reply and actor.calling", function()
  it("answer the call last received, only once", function()
    local r, second = H.run(function()
      local me = actor.self()
      local srv = actor.spawn(function(root)
        actor.receive()
        local calling = actor.calling()
        actor.reply("first", nil, 3)
        local ok, err = pcall(actor.reply, "second")
        actor.send(root, "after-reply", ok, err, calling, actor.calling())
      end, me)
      local r = table.pack(actor.call(srv, "q"))
      return r, H.recv()
    end)
    assert.same({ "first", nil, 3, n = 3 }, r)
    assert.same({ "after-reply", false, "no call to reply to", true, false, n = 5 }, second)
  end)

  it("calling is false for a plain send, and reply then errors", function()
    local m = H.run(function()
      local me = actor.self()
      local srv = actor.spawn(function(root)
        actor.receive()
        actor.send(root, "state", actor.calling(), pcall(actor.reply, 1))
      end, me)
      actor.send(srv, "just-a-send")
      return H.recv()
    end)
    assert.equal("state", m[1])
    assert.is_false(m[2])
    assert.is_false(m[3])
    assert.matches("no call to reply to", m[4], 1, true)
  end)

  it("calling is false outside any actor", function()
    assert.is_false(actor.calling())
  end)

  it("reply needs an actor", function()
    local ok, err = pcall(actor.reply, 1)
    assert.is_false(ok)
    assert.matches("only an actor can do this", err, 1, true)
  end)

  it("reply refuses values that cannot be sent", function()
    local m = H.run(function()
      local me = actor.self()
      local srv = actor.spawn(function(root)
        actor.receive()
        local ok, err = pcall(actor.reply, function() end)
        actor.reply("fine")
        actor.send(root, "tried", ok, err)
      end, me)
      local r = actor.call(srv, "q")
      local m = H.recv()
      m.reply = r
      return m
    end)
    assert.is_false(m[2])
    assert.matches("bad argument #1 to 'actor.reply' (a function cannot be sent)", m[3], 1, true)
    assert.equal("fine", m.reply) -- the call is still answerable after
  end)

  it("reply_error needs a string", function()
    local m = H.run(function()
      local me = actor.self()
      local srv = actor.spawn(function(root)
        actor.receive()
        actor.send(root, "tried", pcall(actor.reply_error, {}))
        actor.reply(1)
      end, me)
      actor.call(srv, "q")
      return H.recv()
    end)
    assert.is_false(m[2])
  end)
end)

describe("actor.serve", function()
  it("replies with what the handler returns", function()
    local a, b = H.run(function()
      local srv = actor.spawn(function()
        actor.serve { add = function(x, y) return x + y end, pair = function() return 1, 2 end }
      end)
      return actor.call(srv, "add", 2, 3), table.pack(actor.call(srv, "pair"))
    end)
    assert.equal(5, a)
    assert.same({ 1, 2, n = 2 }, b)
  end)

  it("replies with nothing when the handler returns nothing", function()
    local r = H.run(function()
      local srv = actor.spawn(function() actor.serve { noop = function() end } end)
      return table.pack(actor.call(srv, "noop"))
    end)
    assert.same({ n = 0 }, r)
  end)

  it("handles plain sends too, keeping its state between messages", function()
    local total = H.run(function()
      local srv = actor.spawn(function()
        local sum = 0
        actor.serve {
          add = function(x) sum = sum + x end,
          total = function() return sum end,
        }
      end)
      for i = 1, 10 do actor.send(srv, "add", i) end
      return actor.call(srv, "total")
    end)
    assert.equal(55, total)
  end)

  it("answers a call to an unknown name with an error, and keeps serving", function()
    local ok, err, after = H.run(function()
      local srv = actor.spawn(server)
      local ok, err = pcall(actor.call, srv, "no-such-handler")
      return ok, err, actor.call(srv, "sq", 4)
    end)
    assert.is_false(ok)
    assert.matches("no handler for 'no-such-handler'", err, 1, true)
    assert.equal(16, after)
  end)

  it("drops a send to an unknown name, and keeps serving", function()
    local r = H.run(function()
      local srv = actor.spawn(server)
      actor.send(srv, "unknown-send")
      return actor.call(srv, "sq", 2)
    end)
    assert.equal(4, r)
  end)

  it("passes what has no handler to handlers.default", function()
    local r = H.run(function()
      local srv = actor.spawn(function()
        actor.serve { default = function(name, x) return "default:" .. name, x end }
      end)
      return table.pack(actor.call(srv, "anything", 7))
    end)
    assert.same({ "default:anything", 7, n = 2 }, r)
  end)

  it("ends the actor when a handler fails, and the caller gets the error", function()
    local ok, err, reason = H.run(function()
      local srv = actor.spawn(function()
        actor.serve { boom = function() error("handler exploded", 0) end }
      end)
      local ref = actor.monitor(srv)
      local ok, err = pcall(actor.call, srv, "boom")
      local _, r, _, reason = actor.receive(H.PATIENCE)
      assert(r == ref)
      return ok, err, reason
    end)
    assert.is_false(ok)
    assert.matches("down: handler exploded", err, 1, true)
    assert.equal("handler exploded", reason)
  end)

  it("lets a handler answer later through actor.reply_error", function()
    local ok, err = H.run(function()
      local srv = actor.spawn(function()
        actor.serve { check = function(x) if x < 0 then actor.reply_error("negative") end end }
      end)
      return pcall(actor.call, srv, "check", -1)
    end)
    assert.is_false(ok)
    assert.matches("failed: negative", err, 1, true)
  end)

  it("replies with what a handler returns after it waited, nils kept", function()
    local a, b = H.run(function()
      local srv = actor.spawn(function()
        actor.serve {
          slow = function(x) actor.sleep(1) return nil, x, nil end,
          default = function(name, x) actor.sleep(1) return name, x end,
        }
      end)
      return table.pack(actor.call(srv, "slow", 3)), table.pack(actor.call(srv, "other", 4))
    end)
    assert.same({ nil, 3, nil, n = 3 }, a)
    assert.same({ "other", 4, n = 2 }, b)
  end)

  it("finds handlers through a metatable, whose __index may wait", function()
    local r = H.run(function()
      local srv = actor.spawn(function()
        local base = { sq = function(x) return x * x end }
        actor.serve(setmetatable({}, {
          __index = function(_, name)
            actor.sleep(1) -- waits inside the lookup
            return base[name]
          end,
        }))
      end)
      local ok, err = pcall(actor.call, srv, "nope")
      return { actor.call(srv, "sq", 5), ok, err }
    end)
    assert.equal(25, r[1])
    assert.is_false(r[2])
    assert.matches("no handler for 'nope'", r[3], 1, true)
  end)

  it("ends the actor with Lua's own error when a handler is no function", function()
    local ok, err = H.run(function()
      local srv = actor.spawn(function() actor.serve { x = 5 } end)
      return pcall(actor.call, srv, "x")
    end)
    assert.is_false(ok)
    assert.matches("attempt to call a number value (local 'f')", err, 1, true)
  end)

  it("ends the actor with a bad argument error when the handlers are no table", function()
    local ok, err = H.run(function()
      local srv = actor.spawn(function() actor.serve(42) end)
      return pcall(actor.call, srv, "x")
    end)
    assert.is_false(ok)
    assert.matches("bad argument #1 to 'actor.serve' (table expected, got number)", err, 1, true)
  end)

  it("returns when a handler sets handlers.stop", function()
    local m = H.run(function()
      local me = actor.self()
      local srv = actor.spawn(function(root)
        local handlers = {}
        handlers.quit = function() handlers.stop = true return "bye" end
        actor.serve(handlers)
        actor.send(root, "serve returned")
      end, me)
      local r = actor.call(srv, "quit")
      return { r, H.expect("serve returned") == nil }
    end)
    assert.same({ "bye", true }, m)
  end)

  it("keeps serving when a handler is named stop (it is not the flag)", function()
    local r = H.run(function()
      local srv = actor.spawn(function()
        actor.serve { stop = function() actor.exit() end, sq = function(x) return x * x end }
      end)
      local a = actor.call(srv, "sq", 2)
      local b = actor.call(srv, "sq", 3)
      actor.send(srv, "stop")
      return { a, b, H.await_down(srv) }
    end)
    assert.same({ 4, 9, "normal" }, r)
  end)
end)

describe("actor.forward", function()
  -- A relay that forwards each call to `to`, after some work.
  local function relay(to, work)
    while true do
      actor.receive()
      local n = 0
      for i = 1, work do n = n + i end
      actor.forward(to)
    end
  end

  it("sends a call on: the answer comes from the new callee", function()
    local r = H.run(function()
      local srv = actor.spawn(server)
      local rel = actor.spawn(relay, srv, 0)
      return { actor.call(rel, "sq", 7), table.pack(actor.call(rel, "echo", "a", nil, 3)) }
    end)
    assert.same({ 49, { "a", nil, 3, n = 3 } }, r)
  end)

  it("sends a call on as another message, answered by the new callee", function()
    local r = H.run(function()
      local srv = actor.spawn(server)
      local rel = actor.spawn(function()
        while true do
          local _, x = actor.receive()
          actor.forward(srv, "sq", x + 1)
        end
      end)
      return { actor.call(rel, "anything", 6), actor.call(rel, "else", 2) }
    end)
    assert.same({ 49, 9 }, r)
  end)

  it("works after the handler was preempted (a preemption is not a wait)", function()
    H.configured({ slice = 100 }, function()
      local r = H.run(function()
        local srv = actor.spawn(server)
        local rel = actor.spawn(relay, srv, 20000) -- many slices of work
        return { actor.call(rel, "sq", 7), actor.call(rel, "sq", 8) }
      end)
      assert.same({ 49, 64 }, r)
    end)
  end)

  it("has nothing to send on once the handler has waited", function()
    local r = H.run(function()
      local srv = actor.spawn(server)
      -- each wait ends with an answer of its own, which is no message
      -- received: neither a sleep's timeout nor a call's reply goes on
      local function after(wait)
        local me = actor.self()
        local rel = actor.spawn(function()
          actor.receive()
          wait()
          actor.send(me, "forward", pcall(actor.forward, srv))
        end)
        actor.send(rel, "sq", 3)
        local ok, err = H.expect("forward")
        return { ok, err }
      end
      return {
        after(function() actor.sleep(1) end),
        after(function() actor.call(srv, "sq", 2) end),
        after(function() actor.receive(1) end), -- timed out: nothing received
      }
    end)
    local why = "forward: no message is being handled"
    for _, got in ipairs(r) do
      assert.is_false(got[1])
      assert.matches(why, got[2], 1, true)
    end
  end)
end)
