-- actor.stats, actor.configure, actor.log and actor.version.
local actor = require "actor"
local H = require "support.helpers"

describe("actor.configure", function()
  it("returns the settings in force, with their defaults", function()
    assert.same({ slice = 1000, hard_limit = 500, call_timeout = 5000, send_timeout = 5000,
                  memory_limit = 1024,
                  store = "c", writer = "log", data_dir = "./troupe-data", fsync = "everysec",
                  redis = "redis://127.0.0.1:6379/0", redis_timeout = 2000,
                  log_level = "info" },
      actor.configure())
  end)

  it("refuses unknown settings and bad values, changing nothing", function()
    local before = actor.configure()
    for _, bad in ipairs {
      { { colour = "red" }, "unknown setting 'colour'" },
      { { store = "rust" }, "store must be one of c lua redis" },
      { { redis = "http://127.0.0.1" }, "redis must be redis://HOST[:PORT][/DB]" },
      { { redis = "redis://127.0.0.1:0" }, "the port in 'redis://127.0.0.1:0' is not 1..65535" },
      { { redis_timeout = 0 }, "redis_timeout must be 1..16777215 ms" },
      { { writer = "xml" }, "writer must be one of log json" },
      { { fsync = "sometimes" }, "fsync must be one of everysec always no" },
      { { data_dir = "" }, "data_dir must be" },
      { { log_level = "loud" }, "log_level must be one of error warn info debug" },
      { { slice = 0 }, "slice must be 1..16777215" },
      { { slice = 100, call_timeout = "soon" }, "call_timeout must be" },
    } do
      local ok, err = pcall(actor.configure, bad[1])
      assert.is_false(ok)
      assert.matches(bad[2], err, 1, true)
      assert.same(before, actor.configure())
    end
  end)

  it("changes the settings given and keeps the others", function()
    local old = actor.configure()
    local now = actor.configure { call_timeout = 1234, slice = 500 }
    local after = actor.configure()
    actor.configure(old)
    assert.same({ slice = 500, hard_limit = 500, call_timeout = 1234, send_timeout = 5000,
                  memory_limit = 1024,
                  store = "c", writer = "log", data_dir = "./troupe-data", fsync = "everysec",
                  redis = "redis://127.0.0.1:6379/0", redis_timeout = 2000,
                  log_level = "info" },
      now)
    assert.same(now, after)
    assert.same(old, actor.configure())
  end)

  it("refuses values out of range or of the wrong type", function()
    local old = actor.configure()
    for _, bad in ipairs({ { slice = 0 }, { hard_limit = -1 }, { call_timeout = 0x1000000 },
      { send_timeout = -1.5 }, { slice = 1.5 }, { slice = "many" } }) do
      assert.has_error(function() actor.configure(bad) end)
    end
    assert.has_error(function() actor.configure("slice") end)
    -- one bad value among good ones: none of them is applied
    assert.has_error(function() actor.configure { slice = 500, send_timeout = 0 } end)
    assert.same(old, actor.configure()) -- nothing changed
  end)

  it("applies to actors while they run (a smaller slice still preempts)", function()
    local r
    H.configured({ slice = 100 }, function()
      r = H.run(function()
        local spinner = actor.spawn(function() while true do end end)
        local srv = actor.spawn(function() actor.serve { ping = function() return "pong" end } end)
        local answer = actor.call(srv, "ping")
        actor.kill(spinner)
        return answer
      end)
    end)
    assert.equal("pong", r)
  end)

  it("takes the store's settings made in a run until its first request; restarts keep them",
    function()
      local kv = require "actor.kv"
      local dir = os.tmpname()
      os.remove(dir)
      local old = actor.configure()
      local ok, r = pcall(H.run, function()
        actor.configure { store = "lua", writer = "json", data_dir = dir }
        kv.set("k", "v") -- starts the store: the Lua pair, on dir
        actor.configure { store = "c", writer = "log" } -- too late for this run
        actor.reset("kv")
        local f = io.open(dir .. "/data.json")
        if f then f:close() end
        return { kv.get("k"), f ~= nil }
      end)
      actor.configure(old)
      os.execute("rm -rf '" .. dir .. "'")
      assert(ok, r)
      assert.same({ "v", true }, r)
    end)
end)

describe("actor.stats", function()
  it("counts live actors", function()
    local r = H.run(function()
      local base = actor.stats().actors
      local pids = {}
      for i = 1, 10 do pids[i] = actor.spawn(H.idle) end
      local more = actor.stats().actors
      for i = 1, 10 do actor.send(pids[i], "stop") end
      H.await_down(pids[10]) -- they end in order
      return { base, more - base, actor.stats().actors - base }
    end)
    assert.same({ 2, 10, 0 }, r) -- the root and the router
  end)

  it("counts delivered messages, dead letters and pending timers", function()
    local r = H.run(function()
      local s0 = actor.stats()
      actor.send(actor.self(), "one")
      actor.receive()
      local s1 = actor.stats()
      local dead = actor.spawn(function() end)
      H.await_down(dead)
      actor.send(dead, "lost")
      local id = actor.after(60000, "far away")
      local s2 = actor.stats()
      actor.cancel(id)
      return {
        s1.delivered > s0.delivered,
        s2.dead_letters - s1.dead_letters,
        s2.timers >= 1,
        math.type(s2.late_replies),
      }
    end)
    assert.same({ true, 1, true, "integer" }, r)
  end)
end)

describe("actor.log", function()
  it("takes a level and a text", function()
    H.run(function()
      actor.log("debug", "a debug line from the specs")
      actor.log("info", "an info line from the specs")
    end)
  end)

  it("refuses an unknown level or a missing text", function()
    assert.has_error(function() actor.log("loud", "x") end)
    assert.has_error(function() actor.log("info") end)
  end)
end)

describe("actor.version", function()
  it("is the library's version", function()
    assert.matches("^%d+%.%d+%.%d+$", actor.version)
  end)
end)
