-- The Lua examples (examples/*.lua), run through the troupe binary: each
-- must exit 0 and print what its comments promise.
local BIN = os.getenv("TROUPE_BIN")
local SRC = os.getenv("TROUPE_SOURCE_DIR") or "."

local function run_example(name)
  local f = assert(io.popen(string.format("%s %s/examples/%s 2>&1", BIN, SRC, name)))
  local out = f:read("a")
  local _, _, code = f:close()
  return out, code
end

describe("examples", function()
  it("basic_actor.lua: a counter keeps a running total", function()
    local out, code = run_example("basic_actor.lua")
    assert.equal(0, code)
    assert.matches("^spawned the counter as <pid %d+%.%d+>\n", out)
    assert.equal(table.concat({
      "counter: +5 -> 5",
      "counter: +10 -> 15",
      "counter: +20 -> 35",
      "counter: +7 -> 42",
      "the total is 42",
      "counter: stopping",
      "",
    }, "\n"), out:gsub("^[^\n]*\n", "", 1))
  end)

  it("responding_actor.lua: calls, a failed call, answers collected later", function()
    local out, code = run_example("responding_actor.lua")
    assert.equal(0, code)
    assert.equal(table.concat({
      "square(1) = 1",
      "square(2) = 4",
      "square(3) = 9",
      "cube(2) failed: no handler for 'cube'",
      "sent 3 requests; doing other work while they are answered",
      "collected square(4) = 16",
      "collected square(5) = 25",
      "collected square(6) = 36",
      "",
    }, "\n"), out)
  end)
end)
