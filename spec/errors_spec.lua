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
    assert.matches("runaway actor killed: %d+ slices of %d+ us without yielding", reason)
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

-- ------------------------------------------------------------ bad arguments

-- The line call_here calls f from, which an error about f's arguments
-- must name (the caller's line, as Lua's own libraries do).
local CALL_LINE
local function call_here(f, ...)
  CALL_LINE = debug.getinfo(1, "l").currentline + 1
  local r = f(...) -- not a tail call: this line stays the caller
  return r
end

-- Calls f(...) and returns the error it raised, "" if none.
local function error_of(f, ...)
  local ok, err = pcall(call_here, f, ...)
  return ok and "" or tostring(err)
end

-- Asserts that f(...) fails with exactly `message`, at call_here's line.
local function refuses(f, message, ...)
  local err = error_of(f, ...)
  local where = "errors_spec.lua:" .. CALL_LINE .. ": "
  assert(err:sub(-#(where .. message)) == where .. message,
    ("expected '%s%s', got '%s'"):format(where, message, err))
end

describe("a bad argument", function()
  local kv = require "actor.kv"
  local function idle() actor.receive() end
  local C = table.pack -- a case: the message, then the arguments (nils too)

  -- Every public function that takes arguments: the bad calls to try and
  -- the exact message each gets. The functions that take none are listed
  -- apart; a function in neither list fails the spec, so none is missed.
  local TAKE_NONE = {
    self = true, sender = true, now = true, stats = true, calling = true, defer = true,
    pending = true, heartbeat = true, host = true, hosts = true, time = true, list = true,
    node = true, nodes = true, -- the cluster's: nothing to refuse
  }
  local KV_TAKE_NONE = { count = true, info = true, flush = true, stats = true }

  local function cases(other)
    local cycle = {}
    cycle[1] = cycle
    local deep = {}
    for _ = 1, 40 do deep = { deep } end
    local function bad(n, name, msg)
      return ("bad argument #%d to 'actor.%s' (%s)"):format(n, name, msg)
    end
    local NEVER = "a time from 0 to 4294967295 ms expected, got "
    return {
      run = { C(bad(1, "run", "function expected, got number"), 42) },
      spawn = {
        C(bad(1, "spawn", "function expected, got number"), 42),
        C(bad(1, "spawn", "no native actor is named 'nobody'"), "nobody"),
        C(bad(2, "spawn", "a function cannot be sent"), idle, print),
        C(bad(1, "spawn", "module must be a string, got nil"), {}),
        C(bad(1, "spawn", "unknown field 'modul'"), { modul = "x" }),
        C(bad(1, "spawn", "fn must be a string, got number"), { module = "x", fn = 1 }),
        C(bad(1, "spawn", "args must be a table, got string"), { module = "x", args = "a" }),
        C(bad(1, "spawn", "name must be a string, got boolean"), { module = "x", name = true }),
        C(bad(1, "spawn", 'host must be 0..0 or "any", got 1'), { module = "x", host = 1 }),
        C(bad(1, "spawn", 'host must be 0..0 or "any", got 0.5'), { module = "x", host = 0.5 }),
      },
      serve_module = { C(bad(1, "serve_module", "string expected, got number"), 42) },
      reload = { C(bad(1, "reload", "string expected, got no value")) },
      send = {
        C(bad(1, "send", "pid or registered name expected, got number"), 42, "x"),
        C(bad(1, "send", "no actor is registered as 'nobody'"), "nobody", "x"),
        C(bad(2, "send", "string expected, got no value"), other),
        C(bad(2, "send", "string expected, got table"), other, {}),
        C(bad(3, "send", "a function cannot be sent"), other, "x", print),
        C(bad(4, "send", "a table that contains itself (cycle)"), other, "x", 1, cycle),
        C(bad(3, "send", "tables nested deeper than 30"), other, "x", deep),
        C(bad(3, "send", "a function cannot be sent (it is inside a table)"),
          other, "x", { f = print }),
      },
      try_send = {
        C(bad(1, "try_send", "pid or registered name expected, got boolean"), true, "x"),
        C(bad(2, "try_send", "string expected, got nil"), other, nil),
        C(bad(3, "try_send", "a thread cannot be sent"), other, "x", coroutine.create(print)),
      },
      call = {
        C(bad(1, "call", "pid or registered name expected, got nil"), nil, "x"),
        C(bad(2, "call", "string expected, got table"), other, {}),
        C(bad(4, "call", "a function cannot be sent"), other, "x", 1, print),
      },
      call_timeout = {
        C(bad(1, "call_timeout", "number expected, got string"), "soon", other, "x"),
        C(bad(1, "call_timeout", "a time from 0 to 16777215 ms expected, got -1"),
          -1, other, "x"),
        C(bad(1, "call_timeout", "a time from 0 to 16777215 ms expected, got 16777215.5"),
          16777215.5, other, "x"),
        C(bad(2, "call_timeout", "pid or registered name expected, got number"), 10, 42, "x"),
        C(bad(3, "call_timeout", "string expected, got no value"), 10, other),
        C(bad(4, "call_timeout", "a function cannot be sent"), 10, other, "x", print),
      },
      reply = { C(bad(2, "reply", "a function cannot be sent"), 1, print) },
      reply_error = { C(bad(1, "reply_error", "string expected, got table"), {}) },
      forward = { C(bad(1, "forward", "pid or registered name expected, got table"), {}) },
      reply_to = {
        C(bad(1, "reply_to", "pid expected, got number"), 42, 1),
        C(bad(2, "reply_to", "number expected, got string"), other, "one"),
        C(bad(3, "reply_to", "a function cannot be sent"), other, 1, print),
      },
      reply_error_to = { C(bad(3, "reply_error_to", "string expected, got no value"), other, 1) },
      supervise = { C(bad(1, "supervise", "table expected, got string"), "children") },
      log = {
        C(bad(1, "log", "invalid option 'loud'"), "loud", "x"),
        C(bad(2, "log", "string expected, got table"), "info", {}),
      },
      receive = {
        C(bad(1, "receive", NEVER .. "-1"), -1),
        C(bad(1, "receive", "number expected, got table"), {}),
      },
      sleep = {
        C(bad(1, "sleep", NEVER .. "nan"), 0 / 0),
        C(bad(1, "sleep", NEVER .. "1e+300"), 1e300),
        C(bad(1, "sleep", NEVER .. "inf"), math.huge),
        C(bad(1, "sleep", "number expected, got no value")),
      },
      after = {
        C(bad(1, "after", NEVER .. "-0.5"), -0.5, "x"),
        C(bad(2, "after", "string expected, got table"), 10, {}),
        C(bad(3, "after", "a function cannot be sent"), 10, "x", print),
      },
      cancel = {
        C(bad(1, "cancel", "number expected, got string"), "id"),
        C(bad(1, "cancel", "number has no integer representation"), 1.5),
      },
      register = {
        C(bad(1, "register", "string expected, got table"), {}),
        C(bad(1, "register", "a name of 1 to 255 bytes, without NUL, expected"), ""),
        C(bad(2, "register", "pid expected, got string"), "x", "not a pid"),
      },
      unregister = { C(bad(1, "unregister", "string expected, got no value")) },
      register_global = { C(bad(1, "register_global", "string expected, got table"), {}) },
      whereis_global = { C(bad(1, "whereis_global", "string expected, got no value")) },
      unregister_global = { C(bad(1, "unregister_global", "string expected, got number"), 1) },
      send_global = { C(bad(1, "send_global", "string expected, got pid"), other, "x") },
      call_global = { C(bad(1, "call_global", "string expected, got nil"), nil, "x") },
      whereis = { C(bad(1, "whereis", "string expected, got boolean"), false) },
      monitor = { C(bad(1, "monitor", "pid or registered name expected, got number"), 1) },
      demonitor = { C(bad(1, "demonitor", "number expected, got pid"), other) },
      link = { C(bad(1, "link", "pid expected, got string"), "x") },
      unlink = { C(bad(1, "unlink", "pid expected, got no value")) },
      trap_exit = { C(bad(1, "trap_exit", "boolean expected, got number"), 1) },
      exit = { C(bad(1, "exit", "string expected, got table"), {}) },
      kill = {
        C(bad(1, "kill", "pid expected, got string"), "x"),
        C(bad(2, "kill", "string expected, got table"), other, {}),
      },
      alive = { C(bad(1, "alive", "pid expected, got nil"), nil) },
      info = { C(bad(1, "info", "pid expected, got string"), "x") },
      timing = { C(bad(1, "timing", "boolean expected, got nil"), nil) },
      configure = {
        C(bad(1, "configure", "table expected, got string"), "slice"),
        C(bad(1, "configure", "unknown setting 'colour'"), { colour = "red" }),
        C(bad(1, "configure", "slice must be 1..16777215, got 0.5"), { slice = 0.5 }),
        C(bad(1, "configure", "call_timeout must be 1..16777215 ms, got 'soon'"),
          { call_timeout = "soon" }),
      },
      serve = { C(bad(1, "serve", "table expected, got no value")) },
      reset = { C(bad(1, "reset", "string expected, got number"), 42) },
    }, {
      get = {
        C("bad argument #1 to 'kv.get' (string expected, got no value)"),
        C("bad argument #1 to 'kv.get' (a key of 1 to 65535 bytes expected, got 0 bytes)", ""),
      },
      set = {
        C("bad argument #1 to 'kv.set' (string expected, got number)", 1),
        C("bad argument #2 to 'kv.set' (string or number expected, got no value)", "k"),
        C("bad argument #2 to 'kv.set' (string or number expected, got table)", "k", {}),
        C("bad argument #1 to 'kv.set' (a key of 1 to 65535 bytes expected, got 65536 bytes)",
          string.rep("k", 65536), "v"),
        C("bad argument #3 to 'kv.set' (table expected, got boolean)", "k", "v", true),
      },
      delete = { C("bad argument #1 to 'kv.delete' (string expected, got boolean)", false) },
      getdel = { C("bad argument #1 to 'kv.getdel' (string expected, got no value)") },
      strlen = { C("bad argument #1 to 'kv.strlen' (string expected, got number)", 1) },
      exists = { C("bad argument #1 to 'kv.exists' (string expected, got table)", {}) },
      ttl = { C("bad argument #1 to 'kv.ttl' (string expected, got no value)") },
      pttl = {
        C("bad argument #1 to 'kv.pttl' (a key of 1 to 65535 bytes expected, got 0 bytes)", ""),
      },
      persist = { C("bad argument #1 to 'kv.persist' (string expected, got nil)", nil, 1) },
      incr = {
        C("bad argument #1 to 'kv.incr' (string expected, got no value)"),
        C("bad argument #2 to 'kv.incr' (number expected, got string)", "k", "one"),
        C("bad argument #2 to 'kv.incr' (number has no integer representation)", "k", 1.5),
      },
      append = {
        C("bad argument #2 to 'kv.append' (string or number expected, got no value)", "k"),
      },
      mget = {
        C("bad argument #1 to 'kv.mget' (string expected, got no value)"),
        C("bad argument #2 to 'kv.mget' (string expected, got number)", "a", 1),
      },
      mset = {
        C("bad argument #1 to 'kv.mset' (table or keys and values expected)"),
        C("bad argument #2 to 'kv.mset' (a value expected after the last key)", "k"),
        C("bad argument #2 to 'kv.mset' (string or number expected, got table)", "k", {}),
        C("bad argument #3 to 'kv.mset' (string expected, got number)", "k", "v", 1, "w"),
        C("bad argument #1 to 'kv.mset' (a table of at least one key expected)", {}),
      },
      keys = { C("bad argument #1 to 'kv.keys' (string expected, got number)", 1) },
      scan = {
        C("bad argument #1 to 'kv.scan' (number expected, got no value)"),
        C("bad argument #1 to 'kv.scan' (a cursor (an integer >= 0) expected)", -1),
        C("bad argument #2 to 'kv.scan' (string expected, got number)", 0, 1),
        C("bad argument #3 to 'kv.scan' (a count (an integer >= 1) expected)", 0, nil, 0),
      },
      expire = { C("bad argument #2 to 'kv.expire' (number expected, got no value)", "k") },
      pexpire = {
        C("bad argument #2 to 'kv.pexpire' (number expected, got string)", "k", "soon"),
        C("bad argument #1 to 'kv.pexpire' (string expected, got number)", 1, 10),
      },
    }
  end

  it("in any function of actor and actor.kv is named as Lua's own libraries do", function()
    local tried = H.run(function()
      local other = actor.spawn(idle)
      local all, kv_all = cases(other)
      local tried = 0
      local function walk(lib, fns, bad_calls, take_none)
        for name, f in pairs(fns) do
          if type(f) == "function" then
            local list = bad_calls[name]
            assert(list or take_none[name], lib .. "." .. name .. " has no bad-argument case")
            for _, case in ipairs(list or {}) do
              refuses(f, case[1], table.unpack(case, 2, case.n))
              tried = tried + 1
            end
          end
        end
      end
      walk("actor", actor, all, TAKE_NONE)
      walk("kv", kv, kv_all, KV_TAKE_NONE)
      assert.equal(0, actor.pending()) -- nothing was sent on the way
      assert.is_true(actor.alive(other))
      assert.is_nil(io.open(actor.configure().data_dir)) -- nor the store started
      return tried
    end)
    assert.is_true(tried > 60)
  end)
end)

describe("an error of actor.kv", function()
  local kv = require "actor.kv"

  -- Stands in for the router: answers every store request with `answer`
  -- (an error reply when it is a string; nothing at all when nil).
  local function fake_router(answer)
    actor.unregister("router")
    actor.register("router", actor.spawn(function()
      actor.serve { kv = function()
        if answer then actor.reply_error(answer) else actor.defer() end
      end }
    end))
  end

  -- Asserts that err names the caller's line and nothing of how the
  -- request travelled: returns the text after the position.
  local function at_caller(err)
    local where = "errors_spec.lua:" .. CALL_LINE .. ": "
    local at = err:find(where, 1, true)
    assert(at, "not at the caller's line: " .. err)
    local text = err:sub(at + #where)
    assert.is_nil(text:find("kv.lua", 1, true))
    assert.is_nil(text:find("call '", 1, true))
    return text
  end

  it("is the store's reason, at the caller's line", function()
    local err = H.run(function()
      fake_router("kv: the test store says no")
      return error_of(kv.set, "k", "v")
    end)
    assert.equal("kv: the test store says no", at_caller(err))
  end)

  it("is at the caller's line from every request", function()
    local errs = H.run(function()
      fake_router("kv: the test store says no")
      local errs = {}
      for _, case in ipairs {
        { kv.get, "k" }, { kv.set, "k", "v", { nx = true } }, { kv.delete, "k" },
        { kv.getdel, "k" }, { kv.exists, "k" }, { kv.strlen, "k" }, { kv.incr, "k" },
        { kv.append, "k", "v" }, { kv.mget, "a", "b" }, { kv.mset, "a", "1" },
        { kv.mset, { a = "1" } }, { kv.keys, "*" }, { kv.scan, 0 }, { kv.expire, "k", 1 },
        { kv.pexpire, "k", 1 }, { kv.ttl, "k" }, { kv.pttl, "k" }, { kv.persist, "k" },
        { kv.flush }, { kv.count }, { kv.stats }, { kv.info } } do
        errs[#errs + 1] = error_of(table.unpack(case))
      end
      return errs
    end)
    assert.equal(22, #errs)
    for _, err in ipairs(errs) do assert.equal("kv: the test store says no", at_caller(err)) end
  end)

  it("does not speak of the router when the store is down", function()
    local file = os.tmpname() -- a file: the store cannot make its directory there
    local err
    H.configured({ data_dir = file .. "/data" }, function()
      err = H.run(function() return error_of(kv.get, "k") end)
    end)
    os.remove(file)
    local text = at_caller(err)
    assert.matches("^kv.get: ", text)
    assert.is_nil(text:find("router", 1, true))
  end)

  it("says that no answer came within call_timeout", function()
    local err
    H.configured({ call_timeout = 50 }, function()
      err = H.run(function()
        fake_router(nil)
        return error_of(kv.delete, "k")
      end)
    end)
    assert.equal("kv.delete: no answer within call_timeout (50 ms)", at_caller(err))
  end)

  it("names the router when there is none", function()
    local err = H.run(function()
      actor.unregister("router")
      return error_of(kv.count)
    end)
    assert.equal("kv.count: no router is running (the store is reached through it)",
      at_caller(err))
  end)
end)
