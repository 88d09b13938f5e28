-- troupe --threads N: a node of hosts, each on a thread with its own
-- lua_State, driven through the real binary (TROUPE_BIN, set by ctest).
-- Actors on other hosts are started by module (actor.spawn{module=...}):
-- the modules are written beside each test's script, whose folder troupe
-- puts on package.path on every host. Every wait is a receive with a
-- timeout; nothing sleeps hoping.
local H = require "support.helpers"
local BIN = os.getenv("TROUPE_BIN")
local sh, quote, read, write = H.sh, H.quote, H.read, H.write
local SRC = os.getenv("TROUPE_SOURCE_DIR") or "."

-- A fresh folder holding main.lua and the given modules ({name = source}).
local function project(main, modules)
  local dir = os.tmpname()
  os.remove(dir)
  assert(os.execute("mkdir -p " .. quote(dir)))
  write(dir .. "/main.lua", main)
  for name, src in pairs(modules or {}) do write(dir .. "/" .. name .. ".lua", src) end
  return dir
end

-- Runs troupe with options on main.lua in dir, from dir; quiet drops
-- what it logs (stderr).
local function run(dir, opts, quiet)
  local cmd = ("cd %s && %s %s main.lua"):format(quote(dir), BIN, opts or "")
  return sh(quiet and "((" .. cmd .. ") 2>/dev/null)" or cmd)
end

local function cleanup(dir) os.execute("rm -rf " .. quote(dir)) end

-- The worker module most tests start on other hosts.
local WORKER = [[
local actor = require "actor"
local M = {}
-- Tells parent where it runs, then answers calls.
function M.start(parent, tag)
  actor.send(parent, "started", tag, actor.host())
  actor.serve {
    where = function() return actor.host(), actor.hosts() end,
    echo = function(...) return ... end,
    fail = function(why) error(why, 0) end,
    quit = function() actor.exit("quit") end,
  }
end
M.not_a_function = 42
return M
]]

describe("troupe --threads", function()
  setup(function()
    assert(BIN and BIN ~= "", "TROUPE_BIN is not set (ctest sets it)")
  end)

  it("starts an actor by module on another host, which answers calls from there", function()
    local dir = project([[
      local actor = require "actor"
      print("root", actor.host(), actor.hosts())
      local pid = actor.spawn{module = "worker", fn = "start", host = 1, args = {actor.self(), "w"}}
      print("started", select(2, actor.receive(2000)))
      print("where", actor.call(pid, "where"))
      print("echo", actor.call(pid, "echo", 1, "two", {3}, actor.self() == actor.self()))
      print("pid host", pid == actor.whereis("troupe.spawner.1") and "same" or "other")
    ]], { worker = WORKER })
    local out, code = run(dir, "--threads 2")
    cleanup(dir)
    assert.equal(0, code, out)
    assert.equal(table.concat({
      "root\t0\t2",
      "started\tw\t1",
      "where\t1\t2",
      "echo\t1\ttwo\ttable: ", -- a table arrives as a table
    }, "\n"), out:sub(1, #"root\t0\t2\nstarted\tw\t1\nwhere\t1\t2\necho\t1\ttwo\ttable: "))
    assert.matches("pid host\tother\n", out, 1, true)
  end)

  it("spreads host = \"any\" round robin over the node's hosts", function()
    local dir = project([[
      local actor = require "actor"
      local seen = {}
      for i = 1, 6 do
        actor.spawn{module = "worker", fn = "start", host = "any", args = {actor.self(), i}}
        local _, tag, host = actor.receive(2000)
        seen[#seen + 1] = tag .. "@" .. host
      end
      print(table.concat(seen, " "))
    ]], { worker = WORKER })
    local out, code = run(dir, "-t 3")
    cleanup(dir)
    assert.equal(0, code, out)
    assert.equal("1@0 2@1 3@2 4@0 5@1 6@2\n", out)
  end)

  it("says which module, fn and host could not be started, and why", function()
    local dir = project([[
      local actor = require "actor"
      local function try(spec)
        local ok, err = pcall(actor.spawn, spec)
        print(ok, (err:gsub("\n.*", "")))
      end
      try{module = "missing.worker", fn = "start", host = 1}
      try{module = "worker", fn = "not_a_function", host = 1}
      try{module = "worker", fn = "nothing", host = 2}
      try{module = "broken", host = 1}
      try{module = "worker", fn = "not_a_function", host = 0}
      try{module = "worker", host = 5}
      try{module = "worker", host = -1}
      try{module = 7}
      try{module = "worker", hots = 1}
      -- raised at the line that called actor.spawn, as actor.call's errors are
      local function where(spec)
        return select(2, pcall(function() actor.spawn(spec) end)):match("^[^:]*")
      end
      print(where{module = "missing", host = 2})
      print(where{module = "worker", host = 9})
      print(actor.alive(actor.self()))
    ]], { worker = WORKER, broken = "error('broken on purpose')" })
    local out, code = run(dir, "--threads=3")
    cleanup(dir)
    assert.equal(0, code, out)
    assert.equal(table.concat({
      "false\tcannot start 'missing.worker.start' on host 1: module 'missing.worker' not found:",
      "false\tcannot start 'worker.not_a_function' on host 1: "
        .. "'worker.not_a_function' is number, not a function",
      "false\tcannot start 'worker.nothing' on host 2: 'worker.nothing' is nil, not a function",
      "false\tcannot start 'broken' on host 1: ./broken.lua:1: broken on purpose",
      "false\tcannot start 'worker.not_a_function' on host 0: "
        .. "'worker.not_a_function' is number, not a function",
      "false\tbad argument #1 to 'actor.spawn' (host must be 0..2 or \"any\", got 5)",
      "false\tbad argument #1 to 'actor.spawn' (host must be 0..2 or \"any\", got -1)",
      "false\tbad argument #1 to 'actor.spawn' (module must be a string, got number)",
      "false\tbad argument #1 to 'actor.spawn' (unknown field 'hots')",
      "main.lua",
      "main.lua",
      "true",
      "",
    }, "\n"), out)
  end)

  it("monitors, links and kills across hosts, and finds names of other hosts", function()
    local dir = project([[
      local actor = require "actor"
      local me = actor.self()
      -- a name registered on host 1, used from host 0
      local w = actor.spawn{module = "worker", fn = "start", host = 1, args = {me, "named"},
        name = "w1"}
      actor.receive(2000)
      print("whereis", actor.whereis("w1") == w, actor.call("w1", "where"))
      actor.send("w1", "nothing") -- a send by name to another host
      -- monitor: the actor on host 1 ends with a reason
      local ref = actor.monitor(w)
      local ok, err = pcall(actor.call, w, "fail", "on purpose")
      print("call error", ok, (err:match("on purpose") ~= nil))
      local name, r, pid, reason = actor.receive(2000)
      print("down", name, r == ref, pid == w, reason)
      print("name gone", actor.whereis("w1"))
      -- link: the linked actor's end reaches a trapping root
      actor.trap_exit(true)
      local l = actor.spawn{module = "worker", fn = "start", host = 2, args = {me, "linked"},
        link = true}
      actor.receive(2000)
      actor.send(l, "quit")
      local ename, epid, ereason = actor.receive(2000)
      print("exit", ename, epid == l, ereason)
      -- kill an actor of another host
      local k = actor.spawn{module = "worker", fn = "start", host = 2, args = {me, "killed"}}
      actor.receive(2000)
      actor.monitor(k)
      actor.kill(k)
      print("killed", select(4, actor.receive(2000)))
      -- an actor of host 1 starting one on host 2, which answers it
      local relay = actor.spawn{module = "relay", host = 1, args = {me}}
      print("relay", actor.receive(2000))
      print("registered on host 1", actor.whereis("relay") == relay)
      actor.send("relay", "stop")
    ]], {
      worker = WORKER,
      relay = [[
        local actor = require "actor"
        return function(parent)
          local w = actor.spawn{module = "worker", fn = "start", host = 2,
            args = {actor.self(), "r"}}
          local _, tag, h = actor.receive(2000)
          actor.register("relay")
          actor.send(parent, actor.host(), tag, h, actor.call(w, "where"))
          actor.receive()
        end
      ]],
    })
    local out, code = run(dir, "--threads 3", true)
    cleanup(dir)
    assert.equal(0, code, out)
    assert.equal(table.concat({
      "whereis\ttrue\t1\t3",
      "call error\tfalse\ttrue",
      "down\tdown\ttrue\ttrue\ton purpose",
      "name gone",
      "exit\texit\ttrue\tquit",
      "killed\tkilled",
      "relay\t1\tr\t2\t2\t3",
      "registered on host 1\ttrue",
      "",
    }, "\n"), out)
  end)

  it("reaches the store from every host, and what was acknowledged is there after a restart",
    function()
      local dir = project([[
        local actor = require "actor"
        local kv = require "actor.kv"
        for h = 0, actor.hosts() - 1 do
          for i = 1, 2 do
            actor.spawn{module = "kvworker", host = h, args = {actor.self(), i, 100}}
          end
        end
        local ok = 0
        for _ = 1, 2 * actor.hosts() do
          local _, host, good = actor.receive(5000)
          if good then ok = ok + 1 end
          assert(host ~= nil, "a worker did not answer")
        end
        print("ok", ok, "count", kv.count())
      ]], {
        kvworker = [[
          local actor = require "actor"
          local kv = require "actor.kv"
          return function(parent, i, n)
            local h, good = actor.host(), true
            for k = 1, n do
              assert(kv.set(("%d.%d.%d"):format(h, i, k), ("v%d"):format(h * 1000 + k)) == true)
            end
            for k = 1, n do
              good = good and kv.get(("%d.%d.%d"):format(h, i, k)) == ("v%d"):format(h * 1000 + k)
            end
            actor.send(parent, "done", h, good)
          end
        ]],
      })
      local out, code = run(dir, "--threads 3 --data-dir data")
      assert.equal(0, code, out)
      assert.matches("ok\t6\tcount\t600\n", out, 1, true)
      write(dir .. "/main.lua", [[
        local actor = require "actor"
        local kv = require "actor.kv"
        local w = actor.spawn{module = "reader", host = 2, args = {actor.self()}}
        print("after restart", kv.count(), select(2, actor.receive(5000)))
        actor.send(w, "stop")
      ]])
      write(dir .. "/reader.lua", [[
        local actor = require "actor"
        local kv = require "actor.kv"
        return function(parent)
          actor.send(parent, "got", kv.get("0.1.1"), kv.get("1.2.100"), kv.get("2.1.50"))
          actor.receive()
        end
      ]])
      out, code = run(dir, "--threads 3 --data-dir data")
      cleanup(dir)
      assert.equal(0, code, out)
      assert.matches("after restart\t600\tv1\tv1100\tv2050\n", out, 1, true)
    end)

  it("stops every host's actors when the root ends, running their closing code", function()
    local dir = project([[
      local actor = require "actor"
      for h = 0, actor.hosts() - 1 do
        actor.spawn{module = "keeper", host = h, args = {actor.self(), "out." .. h}}
      end
      for _ = 1, actor.hosts() do actor.receive(2000) end
      print("root done")
    ]], {
      keeper = [[
        local actor = require "actor"
        -- buffers lines and writes them all when it ends: a writer's flush
        return function(parent, path)
          local lines = {}
          local _ <close> = setmetatable({}, { __close = function()
            lines[#lines + 1] = "closed on host " .. actor.host()
            local f = assert(io.open(path, "w"))
            f:write(table.concat(lines, "\n"), "\n")
            f:close()
          end })
          lines[1] = "started on host " .. actor.host()
          actor.send(parent, "ready")
          actor.receive() -- until the node stops
        end
      ]],
    })
    local out, code = run(dir, "--threads 3")
    assert.equal(0, code, out)
    assert.equal("root done\n", out)
    for h = 0, 2 do
      assert.equal(("started on host %d\nclosed on host %d\n"):format(h, h),
        read(dir .. "/out." .. h))
    end
    cleanup(dir)
  end)

  it("keeps closures local and is one host with --threads 1", function()
    local dir = project([[
      local actor = require "actor"
      print("hosts", actor.host(), actor.hosts())
      actor.spawn(function(p) actor.send(p, "here", actor.host()) end, actor.self())
      print(actor.receive(2000))
      actor.spawn{module = "worker", fn = "start", host = "any", args = {actor.self(), "a"}}
      print(actor.receive(2000))
      print(pcall(actor.spawn, {module = "worker", host = 1}))
    ]], { worker = WORKER })
    local out, code = run(dir, "--threads 1")
    assert.equal(0, code, out)
    assert.equal(table.concat({
      "hosts\t0\t1",
      "here\t0",
      "started\ta\t0",
      "false\tbad argument #1 to 'actor.spawn' (host must be 0..0 or \"any\", got 1)",
      "",
    }, "\n"), out)
    -- a closure stays on the spawning host in a node too
    write(dir .. "/main.lua", [[
      local actor = require "actor"
      actor.spawn(function(p) actor.send(p, "here", actor.host(), actor.hosts()) end, actor.self())
      print(actor.receive(2000))
    ]])
    out, code = run(dir, "--threads 4")
    cleanup(dir)
    assert.equal(0, code, out)
    assert.equal("here\t0\t4\n", out)
  end)

  it("takes its number of hosts from TROUPE_THREADS, and refuses a bad one", function()
    local out, code_ = sh("TROUPE_THREADS=3 " .. BIN .. [[ -e 'print(require("actor").hosts())']])
    assert.equal("3\n", out)
    assert.equal(0, code_)
    out = sh(BIN .. [[ -t 2 -e 'print(require("actor").hosts())']])
    assert.equal("2\n", out)
    out, code_ = sh(BIN .. " --threads 0 -e 'return'")
    assert.equal(2, code_)
    assert.matches("--threads: 1 to 255 expected, got '0'", out, 1, true)
    out, code_ = sh(BIN .. " --threads")
    assert.equal(2, code_)
    assert.matches("--threads needs a value", out, 1, true)
    out, code_ = sh("TROUPE_THREADS=lots " .. BIN .. " -e 'return'")
    assert.equal(2, code_)
    assert.matches("TROUPE_THREADS: 1 to 255 expected", out, 1, true)
    out = sh(BIN .. " --help")
    assert.matches("--threads N", out, 1, true)
  end)

  it("keeps the exit status rules: a failing root exits 1 with other hosts running", function()
    local dir = project([[
      local actor = require "actor"
      actor.spawn{module = "worker", fn = "start", host = 1, args = {actor.self(), "x"}}
      actor.receive(2000)
      error("the root fails")
    ]], { worker = WORKER })
    local out, code = run(dir, "--threads 2")
    cleanup(dir)
    assert.equal(1, code)
    assert.matches("the root fails", out, 1, true)
  end)

  it("runs examples/node.lua", function()
    local dir = os.tmpname()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. quote(dir)))
    local out, code = sh(("cd %s && %s --threads 3 --data-dir data %s/examples/node.lua"):format(
      quote(dir), BIN, SRC))
    cleanup(dir)
    assert.equal(0, code, out)
    assert.matches("hosts used: 0 1 2\n", out, 1, true)
    assert.matches("total: 5050\n", out, 1, true)
    assert.matches("kv: 10 results stored\n", out, 1, true)
  end)
end)
