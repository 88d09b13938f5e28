-- actor: troupe's Lua module. The C part (actor.core) does the work on the
-- host; this file adds what is plain Lua on top of it, such as serve.
local core = require "actor.core"
local check = require("actor.args").check

local actor = {}
for k, v in pairs(core) do
  if k:sub(1, 1) ~= "_" then actor[k] = v end -- _name: for this module's own files
end

local reply_error, calling = core.reply_error, core.calling

-- What a handler returned becomes the reply, if the call is still to be
-- answered (the handler may have answered, forwarded or deferred it):
-- finish(...) does `if calling() then reply(...) end` in one C call.
-- Varargs all the way: no table per message.
local finish = core._finish

-- serve's step per message, in C for speed: step(handlers, dispatch) is
-- dispatch(receive()), doing itself what dispatch below does for a handler
-- or a default function in a table without a metatable, and handing every
-- other case to dispatch.
local step = core._serve_step

-- actor.serve(handlers): a server loop. Each message `name` goes to
-- handlers[name](...); when it was a call, what the handler returns is the
-- reply. A handler that raises an error ends the actor, and its callers get
-- the error. handlers.default(name, ...) takes what has no handler; without
-- one, a call to an unknown name gets an error reply and a send is logged.
-- Returns when a handler calls actor.exit (which does not return) or when
-- a handler has set handlers.stop = true (a handler named "stop" is just a
-- handler).
function actor.serve(...)
  local handlers = ...
  check("actor.serve", 1, select("#", ...), handlers, "table")
  local function dispatch(name, ...)
    local f = handlers[name]
    if f then
      finish(f(...))
    elseif handlers.default then
      finish(handlers.default(name, ...))
    elseif calling() then
      reply_error("no handler for '" .. tostring(name) .. "'")
    elseif name ~= "down" and name ~= "exit" then
      core.log("warn", "serve: no handler for '" .. tostring(name) .. "'; dropped")
    end
  end
  repeat
    step(handlers, dispatch)
  until handlers.stop == true
end

-- actor.spawn{module = "m", fn = "f", host = 2 | "any", args = {...},
-- link = true, name = "n"}: starts require("m").f(table.unpack(args))
-- as an actor on that host of the node, in that host's own lua_State (a
-- closure cannot travel; a module can), and returns its pid once it is
-- started. Without fn, the module's value is the actor's function, or
-- its field start. host defaults to this host; "any" takes the node's
-- hosts in turn (round robin, counted per spawning host). link = true
-- links the new actor to the caller; name registers it (node-wide). On
-- another host this is a call to its spawner ("troupe.spawner.<host>"),
-- so it waits where actor.call waits. actor.spawn(fn, ...) and
-- actor.spawn("native", ...) are as before: local.
local spawn_module, try_call = core._spawn_module, core._try_call
local next_any = 0 -- the last host "any" gave, per lua_State (= per host)
local spawn_fields = {
  module = true, fn = true, host = true, args = true, link = true, name = true,
  node = true,
}

-- The cluster (README "A cluster over NATS"): each host of a node in one
-- runs a native actor, "troupe.cluster.<host>", that answers for it.
local function cluster_actor()
  local name = "troupe.cluster." .. core.host()
  return core.whereis(name) and name
end

-- Asks this host's cluster actor; raises its error at the caller's
-- caller (level 3), as the function that asks would.
local function ask_cluster(fname, ...)
  local actor_name = cluster_actor()
  if not actor_name then
    error(fname .. ": this node is not in a cluster"
      .. " (troupe --cluster nats://HOST:PORT --node NAME)", 3)
  end
  local r = table.pack(try_call(nil, actor_name, ...))
  if not r[1] then error(fname .. ": " .. tostring(r[2]), 3) end
  return table.unpack(r, 2, r.n)
end

-- The pid of the actor registered (locally) as name on host `host` of
-- another node (a name or an id), through its cluster actor; or nil and
-- why.
local function whereis_remote(name, node, host)
  local actor_name = cluster_actor()
  if not actor_name then return nil, "this node is not in a cluster" end
  local ok, remote = try_call(nil, actor_name, "peer", node, host or 0)
  if not ok then return nil, remote end
  local ok2, pid = try_call(nil, remote, "whereis_local", name)
  if not ok2 then return nil, pid end
  return pid
end

-- Spawning by module on another node: its host's spawner, found through
-- that node's cluster actor, starts it as it would for a host of its own.
local next_any_remote = 0 -- "any" on another node: its hosts in turn
local function spawn_on_node(spec, node, module, fn, link, args)
  local host = spec.host or 0
  if host == "any" then
    local hosts = 1
    for _, n in ipairs(ask_cluster("actor.spawn", "nodes")) do
      if n.name == node or n.id == node then hosts = math.max(n.hosts, 1) end
    end
    host = next_any_remote % hosts
    next_any_remote = next_any_remote + 1
  end
  if math.type(host) ~= "integer" or host < 0 then
    return false, ("host must be a host index of node %s, got %s"):format(
      tostring(node), tostring(host)), true
  end
  local what = fn and module .. "." .. fn or module
  local spawner, why = whereis_remote("troupe.spawner." .. host, node, host)
  if spawner then
    local ok, res = try_call(nil, spawner, "spawn", module, fn, link, spec.name,
      table.unpack(args, 1, args.n or #args))
    if ok then return res end
    why = res
  else
    why = why or ("no spawner runs on its host " .. host)
  end
  return false, ("cannot start '%s' on node %s: %s"):format(what, tostring(node), tostring(why))
end

-- actor.core's spawn calls this with the table and raises what it
-- returns after the pid: false, why, true for a bad argument.
local function spawn_by_module(spec)
  for k in pairs(spec) do
    if not spawn_fields[k] then return false, "unknown field '" .. tostring(k) .. "'", true end
  end
  local module, fn, host, args = spec.module, spec.fn, spec.host, spec.args
  if type(module) ~= "string" then
    return false, "module must be a string, got " .. type(module), true
  elseif fn ~= nil and type(fn) ~= "string" then
    return false, "fn must be a string, got " .. type(fn), true
  elseif args ~= nil and type(args) ~= "table" then
    return false, "args must be a table, got " .. type(args), true
  elseif spec.name ~= nil and type(spec.name) ~= "string" then
    return false, "name must be a string, got " .. type(spec.name), true
  end
  if spec.node ~= nil then
    local node = spec.node
    if type(node) ~= "string" and math.type(node) ~= "integer" then
      return false, "node must be a node's name or id, got " .. type(node), true
    end
    local name, id = nil, nil
    if cluster_actor() then name, id = ask_cluster("actor.spawn", "node") end
    if node ~= name and node ~= id then
      local link = nil
      if spec.link then
        link = core.self()
        if not link then return false, "link = true needs an actor to link to", true end
      end
      return spawn_on_node(spec, node, module, fn, link, args or {})
    end
  end
  local hosts, here = core.hosts(), core.host()
  if host == nil then
    host = here
  elseif host == "any" then
    host = next_any % hosts
    next_any = next_any + 1
  elseif math.type(host) ~= "integer" or host < 0 or host >= hosts then
    return false, ("host must be 0..%d or \"any\", got %s"):format(hosts - 1, tostring(host)), true
  end
  local link = nil
  if spec.link then
    link = core.self()
    if not link then return false, "link = true needs an actor to link to", true end
  end
  local what = fn and module .. "." .. fn or module
  args = args or {}
  local why
  if host == here then
    local pid
    pid, why = spawn_module(module, fn, link, spec.name,
      table.unpack(args, 1, args.n or #args))
    if pid then return pid end
  else
    local spawner = "troupe.spawner." .. host
    if not core.whereis(spawner) then
      why = "no spawner runs there (" .. spawner .. ")"
    else
      local ok, res = try_call(nil, spawner, "spawn", module, fn, link, spec.name,
        table.unpack(args, 1, args.n or #args))
      if ok then return res end
      why = res
    end
  end
  return false, ("cannot start '%s' on host %d: %s"):format(what, host, why)
end
core._set_spawn_table(spawn_by_module)

-- actor.node() -> this node's name and id in its cluster; nil when the
-- node is in none.
function actor.node()
  if not cluster_actor() then return nil end
  return ask_cluster("actor.node", "node")
end

-- actor.nodes() -> the live nodes of the cluster, this one first, each
-- {name = , id = , hosts = }; {} when the node is in none.
function actor.nodes()
  if not cluster_actor() then return {} end
  return (ask_cluster("actor.nodes", "nodes"))
end

-- Global names: held in the cluster's key-value bucket, one owner each,
-- released when the owner ends or its node stops or is lost. Local names
-- (actor.register) stay local.
function actor.register_global(...)
  local name, pid = ...
  check("actor.register_global", 1, select("#", ...), name, "string")
  return (ask_cluster("actor.register_global", "register", name, pid))
end

function actor.whereis_global(...)
  local name = ...
  check("actor.whereis_global", 1, select("#", ...), name, "string")
  return (ask_cluster("actor.whereis_global", "whereis", name))
end

function actor.unregister_global(...)
  local name = ...
  check("actor.unregister_global", 1, select("#", ...), name, "string")
  return (ask_cluster("actor.unregister_global", "unregister", name))
end

-- actor.send_global(name, msg, ...) and actor.call_global(name, msg, ...):
-- actor.send and actor.call to the actor registered globally as name.
function actor.send_global(...)
  local name = ...
  check("actor.send_global", 1, select("#", ...), name, "string")
  local pid = ask_cluster("actor.send_global", "whereis", name)
  if not pid then
    error("actor.send_global: no actor is registered globally as '" .. name .. "'", 2)
  end
  return core.send(pid, select(2, ...))
end

function actor.call_global(...)
  local name = ...
  check("actor.call_global", 1, select("#", ...), name, "string")
  local pid = ask_cluster("actor.call_global", "whereis", name)
  if not pid then
    error("actor.call_global: no actor is registered globally as '" .. name .. "'", 2)
  end
  return core.call(pid, select(2, ...))
end

-- actor.whereis(name[, node[, host]]): with a node (another node's name
-- or id), the pid registered as name on that host of that node (0 by
-- default), asked of it; nil when none.
local local_whereis = core.whereis
function actor.whereis(...)
  local name, node, host = ...
  check("actor.whereis", 1, select("#", ...), name, "string") -- at the caller's line
  if node == nil then return local_whereis(name) end
  local pid, why = whereis_remote(name, node, host)
  if why then error("actor.whereis: " .. tostring(why), 2) end
  return pid
end

-- Looking over the whole node (README "Looking into a running host"):
-- actor.list, actor.info, actor.stats{node = true} and
-- actor.configure{log_level = ...} (actor.core, in C) check their
-- arguments, do this host's part, and hand the other hosts to these
-- askers, which call each host's spawner ("list", "info", "stats",
-- "log_level": lnode.c). They run only in an actor that can wait.
local GRACE = 1000 -- ms an asker's answer may take after its own call ended

-- One host's asker: makes the call, then answers with what it got the
-- call its spawner makes for it (which waits in its mailbox meanwhile).
local function asker(spawner, ms, request, ...)
  local answer = table.pack(try_call(ms, spawner, request, ...))
  if core.receive(ms + GRACE) == "answer" and calling() then
    core.reply(table.unpack(answer, 1, answer.n))
  end
end

-- Asks request(...) of each host in `hosts`, all at once, an asker each
-- (one host: directly): a host that does not answer costs ms once, not
-- once per host. Returns answers (host -> table.pack of the reply's
-- values) and missing (host -> why), or nil when every host answered.
local function ask_hosts(hosts, ms, request, ...)
  local answers, missing, askers = {}, nil, {}
  for i, host in ipairs(hosts) do
    local spawner = "troupe.spawner." .. host
    if not core.whereis(spawner) then
      askers[i] = "no spawner runs there (" .. spawner .. ")"
    elseif #hosts > 1 then
      askers[i] = core.spawn(asker, spawner, ms, request, ...)
    end
  end
  for i, host in ipairs(hosts) do
    local a, r = askers[i]
    if type(a) == "string" then
      r = { false, a }
    elseif a then
      r = table.pack(try_call(ms + GRACE, a, "answer"))
      if r[1] then r = table.pack(table.unpack(r, 2, r.n)) end
    else
      r = table.pack(try_call(ms, "troupe.spawner." .. host, request, ...))
    end
    if r[1] then
      answers[host] = table.pack(table.unpack(r, 2, r.n))
    else
      missing = missing or {}
      missing[host] = tostring(r[2])
    end
  end
  return answers, missing
end

-- Every host of the node but this one.
local function other_hosts()
  local hosts, here = {}, core.host()
  for h = 0, core.hosts() - 1 do
    if h ~= here then hosts[#hosts + 1] = h end
  end
  return hosts
end

local node_asks = {}

-- list(this host's list or {}, only host or nil, ms) -> list, missing:
-- the lists in host order, each oldest first.
function node_asks.list(list, only, ms)
  local answers, missing = ask_hosts(only and { only } or other_hosts(), ms, "list")
  local here, all = core.host(), {}
  for h = 0, core.hosts() - 1 do
    local part = h == here and list or answers[h] and answers[h][1]
    if type(part) == "table" then
      for _, a in ipairs(part) do all[#all + 1] = a end
    end
  end
  return all, missing
end

-- info(host, pid, ms) -> info, or nil and why.
function node_asks.info(host, pid, ms)
  local answers, missing = ask_hosts({ host }, ms, "info", pid)
  if missing then
    return nil, ("an actor of another host, which did not answer (%s)"):format(missing[host])
  end
  return table.unpack(answers[host], 1, 2)
end

-- stats(this host's stats, ms) -> the node's, summed (hosts counts the
-- hosts summed), and missing.
function node_asks.stats(stats, ms)
  local answers, missing = ask_hosts(other_hosts(), ms, "stats")
  for _, a in pairs(answers) do
    if type(a[1]) == "table" then
      for k, v in pairs(a[1]) do
        if math.type(v) == "integer" and math.type(stats[k]) == "integer" then
          stats[k] = stats[k] + v
        end
      end
      stats.hosts = stats.hosts + 1
    end
  end
  return stats, missing
end

-- log_level(level, ms) -> missing: the level set on every other host.
function node_asks.log_level(level, ms)
  local _, missing = ask_hosts(other_hosts(), ms, "log_level", level)
  return missing
end
core._set_node_asks(node_asks)

-- actor.reset(name): restarts the actor the router reaches as `name`
-- (with whatever its supervisor restarts along with it, such as the
-- store's writer); returns once the new one runs.
function actor.reset(...)
  local name = ...
  check("actor.reset", 1, select("#", ...), name, "string")
  return actor.call("router", "router", "reset", name)
end

-- Hot reload. A reloadable module returns a table: handlers (name ->
-- function(state, ...)), and optionally init(...) -> state, version, and
-- code_change(old_state, old_version) -> new state. current[name] is the
-- version actors serving that module switch to at their next message; it
-- is per lua_State, so per host.
local current = {}

local function check_module(name, m)
  if type(m) ~= "table" then
    return nil, ("module '%s' is %s, not a table"):format(name, type(m))
  elseif type(m.handlers) ~= "table" then
    return nil, ("module '%s' has no handlers table"):format(name)
  end
  for k, f in pairs(m.handlers) do
    if type(f) ~= "function" then
      return nil, ("module '%s': handler '%s' is %s, not a function")
        :format(name, tostring(k), type(f))
    end
  end
  for _, k in ipairs { "init", "code_change" } do
    if m[k] ~= nil and type(m[k]) ~= "function" then
      return nil, ("module '%s': %s is %s, not a function"):format(name, k, type(m[k]))
    end
  end
  return m
end

-- actor.serve_module(name, ...): serves the reloadable module `name`:
-- state = init(...), then each message `msg` goes to handlers[msg](state,
-- ...), looked up in the module's current version at every message.
function actor.serve_module(...)
  local name = ...
  check("actor.serve_module", 1, select("#", ...), name, "string")
  local m = current[name]
  if not m then
    m = assert(check_module(name, require(name)))
    current[name] = m
  end
  local state = {}
  if m.init then state = m.init(select(2, ...)) end
  local failed -- a version whose code_change failed here: not tried again
  local function dispatch(msg, ...)
    local new = current[name]
    if new ~= m and new ~= failed then
      local ok, res = true, state
      if new.code_change then ok, res = pcall(new.code_change, state, m.version) end
      if ok then
        m, state = new, res
      else
        failed = new
        core.log("error", ("reload of '%s': code_change failed (%s); %s stays on version %s")
          :format(name, tostring(res), tostring(core.self()), tostring(m.version)))
      end
    end
    local handlers = m.handlers
    local f = handlers[msg]
    if f then
      finish(f(state, ...))
    elseif handlers.default then
      finish(handlers.default(state, msg, ...))
    elseif calling() then
      reply_error("no handler for '" .. tostring(msg) .. "'")
    elseif msg ~= "down" and msg ~= "exit" then
      core.log("warn", "serve_module: no handler for '" .. tostring(msg) .. "'; dropped")
    end
  end
  while true do
    dispatch(core.receive())
  end
end

-- reload_here(name): loads module `name` afresh from its file, in this
-- host's lua_State. On success it becomes the module's current version
-- (package.loaded too) and this returns its version (true without one);
-- actors serving it switch at their next message. On failure (not found,
-- syntax error, error while loading, a bad or missing handler) the old
-- version stays and this returns nil and why.
-- With loaded_only (another host's spawner asking), a module this host
-- has not loaded is left to load afresh when first required.
local function reload_here(name, loaded_only)
  if type(name) ~= "string" then return nil, "module name must be a string" end
  if loaded_only and current[name] == nil and package.loaded[name] == nil then return true end
  local path, why = package.searchpath(name, package.path)
  if not path then return nil, why end
  local chunk
  chunk, why = loadfile(path)
  if not chunk then return nil, why end
  local ok, m = pcall(chunk, name, path)
  if not ok then return nil, ("error loading module '%s': %s"):format(name, tostring(m)) end
  m, why = check_module(name, m)
  if not m then return nil, why end
  local old = current[name] or check_module(name, package.loaded[name])
  if old then
    for k in pairs(old.handlers) do
      if m.handlers[k] == nil then
        return nil, ("module '%s': handler '%s' is missing"):format(name, tostring(k))
      end
    end
  end
  current[name] = m
  package.loaded[name] = m
  if m.version == nil then return true end
  return m.version
end
core._reload_here = reload_here -- the spawner's "reload" (lnode.c)

-- actor.reload(name): reload_here on this host, then, if that worked, on
-- every other host of the node through its spawner (a call: so only from
-- an actor). Returns the version, or nil and why: the first failure, with
-- the hosts that did reload.
function actor.reload(...)
  local name = ...
  check("actor.reload", 1, select("#", ...), name, "string")
  local version, why = reload_here(name)
  if version == nil then return nil, why end
  local here, done = core.host(), { core.host() }
  for host = 0, core.hosts() - 1 do
    if host ~= here then
      local spawner = "troupe.spawner." .. host
      local v, w = nil, "no spawner runs there (" .. spawner .. ")"
      if core.whereis(spawner) then
        if not core.self() then
          w = "reloading other hosts needs a call, so an actor"
        else
          local ok
          ok, v, w = try_call(nil, spawner, "reload", name, true)
          if not ok then w, v = v, nil end
        end
      end
      if v == nil then
        table.sort(done)
        return nil, ("host %d: %s (reloaded on host %s)")
          :format(host, tostring(w), table.concat(done, ", "))
      end
      done[#done + 1] = host
    end
  end
  return version
end

return actor
