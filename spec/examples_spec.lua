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

  it("hot_reload.lua: the counter keeps its count across a reload", function()
    local out, code = run_example("hot_reload.lua")
    assert.equal(0, code)
    assert.equal(table.concat({
      "v1: count is 1",
      "v1: count is 3",
      "reload of a broken file: nil (syntax error)",
      "v1: count is 6",
      "reload -> version 2",
      "v2: count is 10 (1 call since the upgrade from v1)",
      "",
    }, "\n"), out)
  end)

  it("store.lua: set, get twice, reset, get again; a second run finds the data", function()
    local dir = os.tmpname()
    os.remove(dir)
    local cmd = string.format("cd %s && mkdir -p %s && %s --data-dir %s %s/examples/store.lua 2>&1",
      "/tmp", dir, BIN, dir, SRC)
    local function run()
      local f = assert(io.popen(cmd))
      local out = f:read("a")
      local _, _, code = f:close()
      return out, code
    end
    local first, code1 = run()
    assert.equal(0, code1)
    assert.matches("This is the first run: the store is empty.", first, 1, true)
    assert.matches("get hello %-> world\nget hello %-> world", first)
    assert.matches("reset kv .*now <pid %d+%.%d+>", first)
    assert.matches("After the restart the new store loaded 1 key", first, 1, true)
    assert.matches("get hello -> world   (it survived the reset)", first, 1, true)
    local second, code2 = run()
    assert.equal(0, code2)
    assert.matches("This is run 2: the previous run left hello = \"world\" and 3 keys",
      second, 1, true)
    assert.matches("set hello:soon with ex=60 -> ttl 60 s", second, 1, true)
    assert.matches("incr demo:runs -> 2", second, 1, true)
    os.execute("rm -rf " .. dir)
  end)
end)
