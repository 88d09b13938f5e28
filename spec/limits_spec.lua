-- Limits that keep one bad actor from hurting the rest: the Lua heap limit
-- (actor.configure{memory_limit = MiB}) and Lua's own stack limit for deep
-- recursion. Each ends the offending actor only, with a clear reason, and
-- the host and its other actors go on.
local actor = require "actor"
local H = require "support.helpers"

-- Runs bad() as an actor next to a server; returns the reason bad ended
-- with and whether the server still answers afterwards.
local function next_to_a_server(bad)
  return H.run(function()
    local server = actor.spawn(function()
      actor.serve { ping = function() return "pong" end }
    end)
    local pid = actor.spawn(bad)
    actor.monitor(pid)
    -- filling a heap to its limit is work, slow on a loaded or sanitized
    -- machine: waited for with a wide margin
    local _, _, reason = H.expect("down", 60000)
    return reason, actor.call(server, "ping")
  end)
end

describe("the Lua heap limit", function()
  it("ends an actor that allocates without end, and only it", function()
    H.configured({ memory_limit = 32 }, function()
      local reason, answer = next_to_a_server(function()
        local hoard = {}
        while true do hoard[#hoard + 1] = string.rep("x", 4096) .. #hoard end
      end)
      assert.equal("out of memory: the Lua heap limit (32 MiB) is reached", reason)
      assert.equal("pong", answer)
    end)
  end)

  it("leaves actors under the limit alone", function()
    H.configured({ memory_limit = 64 }, function()
      local n = H.run(function()
        local t = {}
        for i = 1, 100000 do t[i] = i end -- a few MiB
        return #t
      end)
      assert.equal(100000, n)
    end)
  end)

  it("is a setting, 1024 MiB unless set", function()
    assert.equal(1024, actor.configure().memory_limit)
    assert.has_error(function() actor.configure { memory_limit = 0 } end,
      "bad argument #1 to 'actor.configure' (memory_limit must be 1..16777215, got 0)")
  end)
end)

describe("deep recursion", function()
  it("ends the actor with a stack overflow, and only it", function()
    local reason, answer = next_to_a_server(function()
      local function deeper(n) return deeper(n + 1) + 1 end
      deeper(1)
    end)
    assert.matches("stack overflow", reason, 1, true)
    assert.equal("pong", answer)
  end)
end)
