-- Hot reload: actor.reload swaps a module's code under the actors serving
-- it, which keep their state; a reload or code_change that fails keeps the
-- old code.
local actor = require "actor"
local H = require "support.helpers"

local dir = H.fresh_dir()
assert(os.execute("mkdir -p " .. H.quote(dir)))
package.path = dir .. "/?.lua;" .. package.path

-- A counter module's source at a version; extra is put in the table as is.
local function counter(version, extra)
  return ([[
return {
  version = %d,
  init = function(start) return { count = start or 0 } end,
  handlers = {
    incr = function(s, n) s.count = s.count + n; return s.count end,
    get = function(s) return s.count, s.from end,
    version = function() return %d end,
  },
  %s
}
]]):format(version, version, extra or "")
end

local seq = 0
-- A fresh module name (the registry outlives a host), written at v1.
local function module_v1()
  seq = seq + 1
  local name = "reload_counter_" .. seq
  H.write(dir .. "/" .. name .. ".lua", counter(1))
  return name
end

local function write(name, src)
  H.write(dir .. "/" .. name .. ".lua", src)
end

-- Runs troupe --threads 2 on a script that starts module `name` on hosts
-- 0 and 1 (p0 and p1, counts 5 and 7), rewrites its file as src, then
-- runs body; returns what it printed and its exit code.
local function on_two_hosts(name, src, body)
  local script = dir .. "/two_hosts_" .. name .. ".lua"
  H.write(script, ([[
local actor = require "actor"
local name = %q
local p0 = actor.spawn { module = name, host = 0 }
local p1 = actor.spawn { module = name, host = 1 }
actor.call(p0, "incr", 5)
actor.call(p1, "incr", 7)
local f = assert(io.open(%q, "w"))
f:write(%q)
f:close()
%s
actor.kill(p0, "shutdown")
actor.kill(p1, "shutdown")
]]):format(name, dir .. "/" .. name .. ".lua", src, body))
  return H.sh(os.getenv("TROUPE_BIN") .. " --threads 2 " .. H.quote(script))
end

describe("actor.reload", function()
  teardown(function() H.remove_tree(dir) end)

  it("swaps the code under a steady stream of calls: none lost, state kept", function()
    local name = module_v1()
    local CLIENTS, CALLS = 4, 300
    local total, sum, last_version, from, rv = H.run(function()
      local server = actor.spawn { module = name }
      local root = actor.self()
      for c = 1, CLIENTS do
        actor.spawn(function()
          local prev, s = 0, 0
          for i = 1, CALLS do
            local got = actor.call(server, "incr", 1)
            assert(got > prev, "replies go up")
            prev, s = got, s + got
            if c == 1 and i == 50 then actor.send(root, "halfway") end
          end
          actor.send(root, "done", s)
        end)
      end
      H.expect("halfway")
      write(name, counter(2, [[
code_change = function(old, old_version)
  return { count = old.count, from = old_version }
end,]]))
      local v = assert(actor.reload(name))
      local s = 0
      for _ = 1, CLIENTS do s = s + H.expect("done") end
      local count, was = actor.call(server, "get")
      return count, s, actor.call(server, "version"), was, v
    end)
    local n = CLIENTS * CALLS
    assert.equal(n, total)
    assert.equal(n * (n + 1) // 2, sum) -- every reply 1..n once
    assert.equal(2, last_version)
    assert.equal(1, from) -- code_change saw the old version
    assert.equal(2, rv)
  end)

  it("keeps the old code when the new one fails to load", function()
    local name = module_v1()
    local res = table.pack(H.run(function()
      local server = actor.spawn { module = name, args = { 10 } }
      actor.call(server, "incr", 5)
      local out = {}
      local function try(src)
        write(name, src)
        local ok, why = actor.reload(name)
        out[#out + 1] = { ok, why, actor.call(server, "version"), actor.call(server, "incr", 1) }
      end
      try("return { handlers = { incr = function( }") -- syntax error
      try("error('boom at load')")
      try(counter(2):gsub("get = [^\n]*\n", "")) -- a handler missing
      try("return { version = 2, handlers = { incr = 3 } }")
      try("return 42")
      return out
    end))
    local out = res[1]
    local whys = { "expected", "boom at load", "handler 'get' is missing",
      "handler 'incr' is number, not a function", "is number, not a table" }
    for i, r in ipairs(out) do
      assert.is_nil(r[1])
      assert.matches(whys[i], r[2], 1, true)
      assert.equal(1, r[3]) -- still version 1
      assert.equal(15 + i, r[4]) -- and its count
    end
  end)

  it("leaves an actor whose code_change fails on the old code, the others move", function()
    local name = module_v1()
    local a, b = H.run(function()
      local big = actor.spawn { module = name, args = { 100 } }
      local small = actor.spawn { module = name, args = { 1 } }
      actor.call(big, "get") -- both run version 1 before the reload
      actor.call(small, "get")
      write(name, counter(2, [[
code_change = function(old)
  if old.count > 10 then error("too big to upgrade") end
  return old
end,]]))
      assert(actor.reload(name))
      local function look(p)
        return { actor.call(p, "version"), actor.call(p, "incr", 1) }
      end
      return look(big), look(small)
    end)
    assert.same({ 1, 101 }, a)
    assert.same({ 2, 2 }, b)
  end)

  it("reloads every host of a node that has the module loaded", function()
    local name = module_v1()
    local v2 = counter(2):gsub("\n", " ")
    local out, code = on_two_hosts(name, v2, [[
print("reload", actor.reload(name))
print("host 0", actor.call(p0, "version"), actor.call(p0, "incr", 1))
print("host 1", actor.call(p1, "version"), actor.call(p1, "incr", 1))
]])
    assert.equal(0, code, out)
    assert.equal("reload\t2\nhost 0\t2\t6\nhost 1\t2\t8\n", out)
  end)

  it("names the host that refused a reload, and the hosts that took it", function()
    local name = module_v1()
    local v2 = ("if require('actor').host() == 1 then error('not on host 1') end "
      .. counter(2)):gsub("\n", " ")
    local out, code = on_two_hosts(name, v2, [[
local ok, why = actor.reload(name)
print(ok, why)
print(actor.call(p0, "version"), actor.call(p1, "version"), actor.call(p1, "incr", 1))
]])
    assert.equal(0, code, out)
    local first, second = out:match("^([^\n]*)\n([^\n]*)\n$")
    assert.matches("^nil\thost 1: .*not on host 1 %(reloaded on host 0%)$", first)
    assert.equal("2\t1\t8", second) -- host 0 moved, host 1 kept v1 and its count
  end)

  it("works from the REPL", function()
    local name = module_v1()
    local file = dir .. "/" .. name .. ".lua"
    local lines = {
      ("package.path = %q .. package.path"):format(dir .. "/?.lua;"),
      ("p = actor.spawn{module = %q}"):format(name),
      "print(actor.call(p, 'incr', 4))",
      ("f = io.open(%q, 'w') f:write(%q) f:close()"):format(file, counter(2):gsub("\n", " ")),
      ("print(actor.reload(%q))"):format(name),
      "print(actor.call(p, 'version'), actor.call(p, 'incr', 1))",
      ("f = io.open(%q, 'w') f:write('return {') f:close()"):format(file),
      ("print(actor.reload(%q))"):format(name),
      "print(actor.call(p, 'version'), actor.call(p, 'incr', 1))",
    }
    local input = dir .. "/repl_input"
    H.write(input, table.concat(lines, "\n") .. "\n")
    local out, code = H.sh(os.getenv("TROUPE_BIN") .. " --threads 1 < " .. H.quote(input))
    assert.equal(0, code, out)
    assert.matches("^4\n2\n2\t5\nnil\t[^\n]*" .. name .. "%.lua:1: [^\n]*\n2\t6\n$", out)
  end)

  it("switches an idle actor at its next message, its mailbox intact", function()
    local name = module_v1()
    local got = table.pack(H.run(function()
      local server = actor.spawn { module = name }
      actor.call(server, "incr", 1)
      for _ = 1, 10 do actor.send(server, "incr", 1) end -- queued
      write(name, counter(3))
      assert(actor.reload(name))
      return actor.call(server, "get"), actor.call(server, "version")
    end))
    assert.equal(11, got[1])
    assert.equal(3, got[2])
  end)
end)
