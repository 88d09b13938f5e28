-- The troupe executable (TROUPE_BIN, set by ctest to build/troupe).
local BIN = os.getenv("TROUPE_BIN")

local H = require "support.helpers"
local sh, quote = H.sh, H.quote

-- Writes a script to a temporary file; returns its path.
local function script(src)
  local path = os.tmpname()
  local f = assert(io.open(path, "w"))
  f:write(src)
  f:close()
  return path
end

-- Runs troupe on a script given as source, with arguments.
local function run_script(src, args)
  local path = script(src)
  local out, code = sh(BIN .. " " .. quote(path) .. " " .. (args or ""))
  os.remove(path)
  return out, code, path
end

describe("troupe", function()
  setup(function()
    assert(BIN and BIN ~= "", "TROUPE_BIN is not set (ctest sets it)")
  end)

  it("runs a script as the root actor with arg set as lua does", function()
    local out, code, path = run_script([[
      local actor = require "actor"
      print("self", actor.self() ~= nil)
      print("arg", arg[0], arg[1], arg[2], #arg)
      print("dots", select("#", ...), ...)
    ]], "first 'second arg'")
    assert.equal(0, code)
    assert.matches("self\ttrue\n", out, 1, true)
    assert.matches("arg\t" .. path .. "\tfirst\tsecond arg\t2\n", out, 1, true)
    assert.matches("dots\t2\tfirst\tsecond arg\n", out, 1, true)
  end)

  it("runs actors in a script: spawn, call, and exits when the root returns", function()
    local out, code = run_script([[
      local actor = require "actor"
      local srv = actor.spawn(function()
        actor.serve { add = function(a, b) return a + b end }
      end)
      actor.spawn(function() actor.receive() end) -- still waiting at the end
      print("sum", actor.call(srv, "add", 2, 3))
    ]])
    assert.equal(0, code)
    assert.equal("sum\t5\n", out)
  end)

  it("stops the other actors in reverse start order when the root returns", function()
    local out, code = run_script([[
      local actor = require "actor"
      for i = 1, 3 do
        actor.spawn(function(n)
          local _ <close> = setmetatable({}, { __close = function() print("stopped " .. n) end })
          actor.receive()
        end, i)
      end
      actor.sleep(0) -- let them start
    ]])
    assert.equal(0, code)
    assert.equal("stopped 3\nstopped 2\nstopped 1\n", out)
  end)

  it("runs code given with -e", function()
    local out, code = sh(BIN .. " -e " .. quote('print("from -e", require("actor").self() ~= nil)'))
    assert.equal(0, code)
    assert.equal("from -e\ttrue\n", out)
  end)

  it("exits non-zero with the traceback on stderr when the script fails", function()
    local out, code = run_script([[
      local function inner() error("script failed on purpose") end
      inner()
    ]])
    assert.equal(1, code)
    assert.matches("script failed on purpose", out, 1, true)
    assert.matches("stack traceback:", out, 1, true)
    assert.matches("in local 'inner'", out, 1, true)
    -- stdout alone carries nothing of it
    local path = script('error("quiet stdout")')
    local f = assert(io.popen(BIN .. " " .. quote(path) .. " 2>/dev/null"))
    local stdout = f:read("a")
    f:close()
    os.remove(path)
    assert.equal("", stdout)
  end)

  it("exits non-zero when -e code fails", function()
    local out, code = sh(BIN .. " -e " .. quote('error("e failed")'))
    assert.equal(1, code)
    assert.matches("e failed", out, 1, true)
  end)

  it("exits non-zero when the root actor is taken down by a link", function()
    local out, code = run_script([[
      local actor = require "actor"
      local child = actor.spawn(function() actor.receive() error("child died", 0) end)
      actor.link(child)
      actor.send(child, "go")
      actor.receive()
    ]])
    assert.equal(1, code)
    assert.matches("the root actor ended: child died", out, 1, true)
  end)

  describe("ends with the root actor's fate", function()
    -- Runs a script; returns its stderr alone and its exit status.
    local function stderr_of(src)
      local path = script(src)
      local f = assert(io.popen(BIN .. " " .. quote(path) .. " 2>&1 >/dev/null", "r"))
      local err = f:read("a")
      local _, _, code = f:close()
      os.remove(path)
      return err, code
    end

    local function count(text, plain)
      local n, at = 0, 1
      while true do
        local s, e = text:find(plain, at, true)
        if not s then return n end
        n, at = n + 1, e + 1
      end
    end

    it("exits 1 with the reason when the root kills itself", function()
      local err, code = stderr_of([[
        local actor = require "actor"
        actor.kill(actor.self())
        print("not reached")
      ]])
      assert.equal(1, code)
      assert.matches("troupe: the root actor ended: killed\n", err, 1, true)
    end)

    it("exits 1 with the reason when another actor kills the root", function()
      local err, code = stderr_of([[
        local actor = require "actor"
        local root = actor.self()
        actor.spawn(function() actor.kill(root, "game over") end)
        actor.receive()
      ]])
      assert.equal(1, code)
      assert.matches("troupe: the root actor ended: game over\n", err, 1, true)
    end)

    it("exits 1 with the reason given to actor.exit", function()
      local err, code = stderr_of('require("actor").exit("bye")')
      assert.equal(1, code)
      assert.matches("troupe: the root actor ended: bye\n", err, 1, true)
    end)

    it("prints a script error's traceback once", function()
      local err, code = stderr_of([[
        local function deep() error("failed once") end
        deep()
      ]])
      assert.equal(1, code)
      assert.equal(1, count(err, "stack traceback:"), err)
      assert.equal(1, count(err, "in local 'deep'"), err)
      assert.matches("troupe: [^\n]*: failed once\nstack traceback:\n", err)
    end)

    it("exits 0 with nothing on stderr when the root returns or exits normally", function()
      for _, src in ipairs { 'print("done")', 'require("actor").exit()',
                             'require("actor").exit("normal")' } do
        local err, code = stderr_of(src)
        assert.equal(0, code)
        assert.equal("", err)
      end
    end)
  end)

  it("keeps os.exit's status", function()
    local _, code = sh(BIN .. " -e 'os.exit(3)'")
    assert.equal(3, code)
  end)

  it("reports a script it cannot open", function()
    local out, code = sh(BIN .. " /nonexistent/troupe-script.lua")
    assert.equal(1, code)
    assert.matches("cannot open /nonexistent/troupe-script.lua", out, 1, true)
  end)

  it("prints its usage with --help and -h", function()
    for _, opt in ipairs({ "--help", "-h" }) do
      local out, code = sh(BIN .. " " .. opt)
      assert.equal(0, code)
      assert.matches("^usage: troupe", out)
      assert.matches("-e CODE", out, 1, true)
      assert.matches("echo", out, 1, true) -- the native actor it defines
    end
  end)

  it("prints its version with --version and -v", function()
    for _, opt in ipairs({ "--version", "-v" }) do
      local out, code = sh(BIN .. " " .. opt)
      assert.equal(0, code)
      assert.matches("^troupe %d+%.%d+%.%d+ %(Lua 5%.4", out)
    end
  end)

  it("refuses an unknown option with status 2 and the usage", function()
    local out, code = sh(BIN .. " --no-such-option")
    assert.equal(2, code)
    assert.matches("unknown option '--no-such-option'", out, 1, true)
    assert.matches("usage: troupe", out, 1, true)
  end)

  it("refuses -e without code", function()
    local out, code = sh(BIN .. " -e")
    assert.equal(2, code)
    assert.matches("-e needs code", out, 1, true)
  end)
end)

describe("troupe's echo native actor", function()
  it("answers calls with their arguments and ping with pong", function()
    local out, code = run_script([[
      local actor = require "actor"
      local echo = actor.spawn("echo")
      local r = table.pack(actor.call(echo, "anything", 1, 2.5, "a\0b", { k = { true } }, nil))
      print("call", r.n, math.type(r[1]), math.type(r[2]), #r[3], r[4].k[1], r[5])
      actor.send(echo, "ping", 42, actor.self())
      local name, n, pid = actor.receive(2000)
      print("send", name, n, pid == actor.self(), actor.sender() == echo)
      print("error", pcall(actor.call, echo, "error", "as asked"))
    ]])
    assert.equal(0, code)
    assert.matches("call\t5\tinteger\tfloat\t3\ttrue\tnil\n", out, 1, true)
    assert.matches("send\tpong\t42\ttrue\ttrue\n", out, 1, true)
    assert.matches("error\tfalse\tcall 'error' to <pid %d+%.%d+> failed: as asked\n", out)
  end)
end)

describe("troupe's REPL", function()
  local function repl(lines)
    return sh("printf '%s' " .. quote(lines) .. " | " .. BIN)
  end

  it("evaluates expressions read from a pipe", function()
    local out, code = repl("return 1+1\n2 * 21\n")
    assert.equal(0, code)
    assert.equal("2\n42\n", out)
  end)

  it("keeps globals between lines and takes statements", function()
    local out, code = repl("x = 20\nprint(x + 1)\nx\n")
    assert.equal(0, code)
    assert.equal("21\n20\n", out)
  end)

  it("reads a statement over several lines", function()
    local out, code = repl("for i = 1, 3 do\nio.write(i, ' ')\nend\nprint()\n")
    assert.equal(0, code)
    assert.equal("1 2 3 \n", out)
  end)

  it("prints an error and goes on, then fails at the end", function()
    local out, code = repl("error('oops')\nprint('still here')\n")
    assert.equal(1, code)
    assert.matches("oops", out, 1, true)
    assert.matches("still here\n.*troupe: the root actor ended: 1 error in the input\n$", out)
  end)

  it("reports a syntax error and goes on", function()
    local out, code = repl("x = = 1\nprint('next')\n")
    assert.equal(1, code)
    assert.matches("unexpected symbol", out, 1, true)
    assert.matches("next\n.*troupe: the root actor ended: 1 error in the input\n$", out)
  end)

  it("is an actor: actor is at hand, and waiting calls work", function()
    local out, code = repl(table.concat({
      "srv = actor.spawn(function() actor.serve { sq = function(x) return x * x end } end)",
      "actor.call(srv, 'sq', 9)",
      "actor.self() ~= nil",
      "",
    }, "\n"))
    assert.equal(0, code)
    assert.equal("81\ntrue\n", out)
  end)

  it("ends at the end of its input", function()
    local out, code = repl("")
    assert.equal(0, code)
    assert.equal("", out)
  end)
end)
