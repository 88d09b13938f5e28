-- actor.list, actor.info, actor.stats{node = true} and
-- actor.configure{log_level} over a node of several hosts (troupe
-- --threads N, through the real binary as spec/node_spec.lua does): the
-- root, on host 0, sees and sets what runs on the others, asked of their
-- spawners; a host that does not answer in time is named, not waited for.
-- Every wait is a receive or a poll with a deadline.
local H = require "support.helpers"
local BIN = os.getenv("TROUPE_BIN")
local quote, write = H.quote, H.write

-- A fresh folder holding main.lua and the given modules ({name = source}).
local function project(main, modules)
  local dir = H.fresh_dir()
  assert(os.execute("mkdir -p " .. quote(dir)))
  write(dir .. "/main.lua", main)
  for name, src in pairs(modules or {}) do write(dir .. "/" .. name .. ".lua", src) end
  return dir
end

-- Runs troupe with opts on main.lua (and its args) in dir: its output
-- (stdout and stderr) and exit status.
local function run(dir, opts, args)
  return H.sh(("cd %s && %s %s main.lua %s"):format(quote(dir), BIN, opts, args or ""))
end

-- Started on another host: registers `name`, tells parent, then holds
-- the mail it gets while it sleeps, until told to go on serving.
local WORKER = [[
local actor = require "actor"
local M = {}
function M.start(parent, name)
  actor.register(name, actor.self())
  actor.send(parent, "started", name, actor.self())
  actor.receive() -- "hold"
  actor.sleep(60000)
end
function M.serve(parent, name)
  actor.register(name, actor.self())
  actor.send(parent, "started", name, actor.self())
  actor.serve {
    log = function(level, text) actor.log(level, text) return true end,
    level = function() return actor.configure().log_level end,
  }
end
return M
]]

-- Polls actor.info(pid) until pred holds (a deadline, not a hope); the
-- main scripts below paste it in.
local WAIT_INFO = [[
local function wait_info(pid, pred)
  local deadline = actor.now() + 5000
  local info = actor.info(pid)
  while not (info and pred(info)) and actor.now() < deadline do
    actor.sleep(2)
    info = actor.info(pid)
  end
  return info
end
]]

local function lines_of(out)
  local t = {}
  for l in out:gmatch("[^\n]+") do
    local k, v = l:match("^(%S+)\t(.*)$")
    if k then t[k] = v end
  end
  return t
end

describe("introspection over the node", function()
  setup(function()
    assert(BIN and BIN ~= "", "TROUPE_BIN is not set (ctest sets it)")
  end)

  it("lists the actors of every host, and gives another host's actor's info", function()
    local dir = project([[
      local actor = require "actor"
      ]] .. WAIT_INFO .. [[
      local a = actor.spawn{module = "worker", fn = "start", host = 1, args = {actor.self(), "one"}}
      local b = actor.spawn{module = "worker", fn = "start", host = 2, args = {actor.self(), "two"}}
      actor.receive(5000)
      actor.receive(5000)
      actor.send(a, "hold")
      actor.send(b, "hold")
      for i = 1, 3 do actor.send(b, "work", i) end
      wait_info(b, function(i) return i.mailbox == 3 and i.waiting == "sleep" end)
      wait_info(a, function(i) return i.waiting == "sleep" end)
      local list, missing = actor.list()
      print("missing", tostring(missing))
      local seen, order = {}, {}
      for _, i in ipairs(list) do
        seen[tostring(i.pid)] = i
        order[#order + 1] = i.host
      end
      print("sorted", tostring(table.concat(order, ",") == table.concat((function()
        local t = {table.unpack(order)}; table.sort(t); return t end)(), ",")))
      print("root", tostring(seen[tostring(actor.self())] ~= nil))
      for tag, pid in pairs{a = a, b = b} do
        local i = seen[tostring(pid)]
        print(tag, ("%s %s %d %s %s %d %s"):format(tostring(i.pid == pid), i.name, i.host,
          i.status, i.waiting, i.mailbox, i.kind))
      end
      for h = 1, 2 do
        local s = seen[tostring(actor.whereis("troupe.spawner." .. h))]
        print("spawner" .. h, s and s.host)
      end
      local info = actor.info(b)
      print("info", ("%s %s %d %s %d %s"):format(tostring(info.pid == b), info.name, info.host,
        info.waiting, info.mailbox, info.module))
      print("where", info.where)
      local one = actor.list{host = 1}
      local hosts = {}
      for _, i in ipairs(one) do hosts[i.host] = true end
      print("only1", tostring(hosts[1] and not hosts[0] and not hosts[2]))
      local here = actor.list{host = 0}
      print("only0", tostring(#here > 0 and here[#here].host == 0))
      actor.kill(b)
      actor.monitor(b)
      actor.receive(5000)
      print("dead", actor.info(b))
      local s, smissing = actor.stats{node = true}
      print("stats", s.hosts, tostring(s.actors >= #list - 1), tostring(smissing))
      print("bad", select(2, pcall(actor.list, {host = 3})))
      print("bad2", select(2, pcall(actor.list, {hots = 1})))
    ]], { worker = WORKER })
    local out, code = run(dir, "--threads 3")
    H.remove_tree(dir)
    assert.equal(0, code, out)
    local t = lines_of(out)
    assert.equal("nil", t.missing, out)
    assert.equal("true", t.sorted, out)
    assert.equal("true", t.root, out)
    assert.equal("true one 1 waiting sleep 0 lua", t.a, out)
    assert.equal("true two 2 waiting sleep 3 lua", t.b, out)
    assert.equal("1", t.spawner1, out)
    assert.equal("2", t.spawner2, out)
    assert.equal("true two 2 sleep 3 worker.start", t.info, out)
    assert.matches("worker.lua:7$", t.where, 1)
    assert.equal("true", t.only1, out)
    assert.equal("true", t.only0, out)
    assert.equal("nil\tno such actor", t.dead, out)
    assert.equal("3\ttrue\tnil", t.stats, out)
    assert.matches("bad argument #1 to 'actor.list' (host must be 0..2, got 3)", t.bad, 1, true)
    assert.matches("bad argument #1 to 'actor.list' (unknown option 'hots')", t.bad2, 1, true)
  end)

  it("sets the log level of every host", function()
    local dir = project([[
      local actor = require "actor"
      local w = actor.spawn{module = "worker", fn = "serve", host = 2, args = {actor.self(), "w"}}
      actor.receive(5000)
      local set, missing = actor.configure{log_level = "debug"}
      print("set", set.log_level, tostring(missing))
      print("there", actor.call(w, "level"))
      actor.call(w, "log", "debug", "shown-at-debug")
      actor.configure{log_level = "info"}
      print("back", actor.call(w, "level"), actor.configure().log_level)
      actor.call(w, "log", "debug", "hidden-at-info")
      actor.call(w, "log", "info", "shown-at-info")
    ]], { worker = WORKER })
    local out, code = run(dir, "--threads 3")
    H.remove_tree(dir)
    assert.equal(0, code, out)
    local t = lines_of(out)
    assert.equal("debug\tnil", t.set, out)
    assert.equal("debug", t.there, out)
    assert.equal("info\tinfo", t.back, out)
    assert.matches("shown-at-debug", out, 1, true)
    assert.matches("shown-at-info", out, 1, true)
    assert.is_nil(out:find("hidden-at-info", 1, true))
  end)

  it("names a host that does not answer in time, and lists the others", function()
    -- host 2 is held up by an actor blocked in a read of a FIFO, which
    -- the root opens for writing once it has looked
    local dir = project([[
      local actor = require "actor"
      ]] .. WAIT_INFO .. [[
      local fifo, flag = arg[1], arg[2]
      local a = actor.spawn{module = "worker", fn = "start", host = 1, args = {actor.self(), "one"}}
      actor.receive(5000)
      local s2 = actor.whereis("troupe.spawner.2")
      actor.spawn{module = "blocker", host = 2, args = {fifo, flag}}
      -- the flag is written in the blocker's last turn: host 2 is held from then on
      local deadline = actor.now() + 5000
      while not io.open(flag) and actor.now() < deadline do actor.sleep(2) end
      local t0 = actor.now()
      local list, missing = actor.list{timeout = 200}
      local took = actor.now() - t0
      print("took", tostring(took >= 190 and took < 3000))
      print("missing", missing and missing[2], missing and tostring(missing[1]))
      local hosts = {}
      for _, i in ipairs(list) do hosts[i.host] = (hosts[i.host] or 0) + 1 end
      print("hosts", tostring(hosts[0] ~= nil), tostring(hosts[1] ~= nil), tostring(hosts[2]))
      print("info", actor.info(s2))
      local f = assert(io.open(fifo, "w"))
      f:write("go")
      f:close()
      list, missing = actor.list()
      hosts = {}
      for _, i in ipairs(list) do hosts[i.host] = true end
      print("after", tostring(missing), tostring(hosts[2]))
      print("a", actor.info(a).name)
    ]], { worker = WORKER, blocker = [[
      local actor = require "actor"
      return function(fifo, flag)
        -- no tick of the clock suspends it between the flag and the open
        actor.configure { slice = 10000000, hard_limit = 1000 }
        actor.sleep(0)
        local f = assert(io.open(flag, "w"))
        f:close()
        f = assert(io.open(fifo, "r"))
        f:read("a")
        f:close()
      end
    ]] })
    local fifo, flag = dir .. "/fifo", dir .. "/flag"
    assert(os.execute("mkfifo " .. quote(fifo)))
    local out, code = run(dir, "--threads 3", quote(fifo) .. " " .. quote(flag))
    H.remove_tree(dir)
    assert.equal(0, code, out)
    local t = lines_of(out)
    assert.equal("true", t.took, out)
    assert.equal("timeout\tnil", t.missing, out)
    assert.equal("true\ttrue\tnil", t.hosts, out)
    assert.matches("^nil\tan actor of another host, which did not answer %(timeout%)$", t.info)
    assert.equal("nil\ttrue", t.after, out)
    assert.equal("one", t.a, out)
  end)
end)
