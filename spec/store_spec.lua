-- The store (require "actor.kv") end to end, through the router, against
-- every pair: the native or the Lua store with the native log writer or the
-- Lua JSON writer. Each test has a data directory of its own, removed
-- afterwards; a "restart of the host" is a second actor.run on the same
-- directory. Waiting is for messages, with a receive timeout as the safety
-- net; the one sleep waits out the everysec fsync, where time passing is
-- the behaviour under test.
local actor = require "actor"
local kv = require "actor.kv"
local file = require "actor.file"
local H = require "support.helpers"

local BIN = os.getenv("TROUPE_BIN")

local PAIRS = {
  { store = "c", writer = "log" },
  { store = "c", writer = "json" },
  { store = "lua", writer = "log" },
  { store = "lua", writer = "json" },
}

local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024

-- ------------------------------------------------------------- helpers

local fresh_dir, remove_tree, read, write = H.fresh_dir, H.remove_tree, H.read, H.write

-- The names in a directory.
local function list(dir)
  local names, p = {}, io.popen("ls -A '" .. dir .. "' 2>/dev/null")
  for line in p:lines() do names[#names + 1] = line end
  p:close()
  table.sort(names)
  return names
end

local function our_pid()
  return read("/proc/self/stat"):match("^(%d+)")
end

-- Runs fn as the root actor of a fresh host whose store is `pair` on dir
-- (fsync "no" unless settings say otherwise); returns what fn returned.
local function run(pair, dir, fn, settings)
  return H.run_store({ store = pair.store, writer = pair.writer, data_dir = dir }, fn, settings)
end

local error_of = H.error_of

local function stats()
  return actor.call("kv.writer", "stats")
end

-- A value of n bytes of every kind (NUL, high bytes, invalid UTF-8).
local function bytes(n, seed)
  local t, x = {}, seed or 7
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = x >> 16 & 0xff
  end
  local parts = {}
  for i = 1, n, 4096 do
    parts[#parts + 1] = string.char(table.unpack(t, i, math.min(i + 4095, n)))
  end
  return table.concat(parts)
end

-- The binary-safe cases: key -> value.
local function binary_cases()
  local all = {}
  for b = 0, 255 do all[#all + 1] = string.char(b) end
  return {
    ["plain"] = "world",
    ["nul\0in\0key"] = "nul\0in\0value",
    ["\0"] = "\0\0\0",
    ["\xff\xfe\xc3\x28"] = "\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc", -- invalid UTF-8
    ["ключ ✓"] = "значение ✓", -- valid UTF-8
    ["empty value"] = "",
    ["all bytes"] = table.concat(all),
    [string.rep("K", MAX_KEY)] = "the longest key there may be",
    ["one MiB"] = bytes(1024 * 1024),
  }
end

-- ---------------------------------------------------- a stream of requests

local CLIENTS, ROUNDS, KEYS = 10, 200, 20

-- A client: ROUNDS rounds of a set then a get, on KEYS keys of its own. It
-- tells root "half" midway and "done" at the end with what it saw: how
-- many requests succeeded and failed, gets that did not return the value
-- just set, the errors, and per key the last acknowledged value and the
-- values of sets that failed after it (which may or may not have landed).
local function client(root, c)
  local ok, failed, wrong, errors, acked, doubt = 0, 0, 0, {}, {}, {}
  for j = 1, ROUNDS do
    if j == ROUNDS // 2 then actor.send(root, "half") end
    local key, value = "c" .. c .. ":" .. j % KEYS, "v" .. j
    local set_ok, e = pcall(kv.set, key, value)
    if set_ok then
      ok, acked[key], doubt[key] = ok + 1, value, nil
    else
      failed, errors[#errors + 1] = failed + 1, tostring(e)
      doubt[key] = doubt[key] or {}
      table.insert(doubt[key], value)
    end
    local get_ok, v = pcall(kv.get, key)
    if not get_ok then
      failed, errors[#errors + 1] = failed + 1, tostring(v)
    elseif set_ok and v ~= value then
      wrong = wrong + 1
    end
    ok = ok + (get_ok and 1 or 0)
  end
  actor.send(root, "done", { ok = ok, failed = failed, wrong = wrong, errors = errors,
    acked = acked, doubt = doubt })
end

-- Starts the clients, calls disrupt() once they are midway, and returns
-- their reports once all are in; a client that hangs fails the test.
local function stream(disrupt)
  local root = actor.self()
  for c = 1, CLIENTS do actor.spawn(client, root, c) end
  H.expect("half")
  disrupt()
  local reports = {}
  while #reports < CLIENTS do
    local m = H.recv(10000)
    if m.n == 0 then
      error(("only %d of %d clients finished: a request hangs"):format(#reports, CLIENTS))
    end
    if m[1] == "done" then reports[#reports + 1] = m[2] end
  end
  return reports
end

-- Checks the reports: every request answered, none wrong, at most
-- `max_failed` failed, each failure naming why (one of the texts `whys`).
local function check_reports(reports, max_failed, whys)
  local failed = 0
  for _, r in ipairs(reports) do
    assert.equal(2 * ROUNDS, r.ok + r.failed)
    assert.equal(0, r.wrong)
    failed = failed + r.failed
    for _, e in ipairs(r.errors) do
      local named = false
      for _, why in ipairs(whys) do named = named or e:find(why, 1, true) ~= nil end
      assert(named, "an unexpected error: " .. e)
    end
  end
  assert.is_true(failed <= max_failed, failed .. " requests failed")
end

-- The store agrees with what the clients were told: each key holds its
-- last acknowledged value, or the value of a set that failed after it.
local function check_data(reports)
  local keys = 0
  for _, r in ipairs(reports) do
    for key, value in pairs(r.acked) do
      local got = kv.get(key)
      local fine = got == value
      for _, maybe in ipairs(r.doubt[key] or {}) do fine = fine or got == maybe end
      assert(fine, ("%s holds %s, acknowledged was %s"):format(key, tostring(got), value))
      keys = keys + 1
    end
  end
  return keys
end

-- ----------------------------------------------------------------- specs

for _, pair in ipairs(PAIRS) do
  describe("the store (" .. pair.store .. " store + " .. pair.writer .. " writer)", function()
    local dir

    before_each(function() dir = fresh_dir() end)
    after_each(function() remove_tree(dir) end)

    local function go(fn, settings) return run(pair, dir, fn, settings) end

    it("serves set, get, delete, count and info", function()
      go(function()
        assert.matches(pair.writer == "log" and "loaded 0 keys .*a new data directory"
          or "no .*data.json yet: starting empty", kv.info())
        assert.equal(0, kv.count())
        assert.is_nil(kv.get("hello"))
        assert.is_true(kv.set("hello", "world"))
        assert.equal("world", kv.get("hello"))
        assert.is_true(kv.set("other", "value"))
        assert.equal(2, kv.count())
        assert.is_true(kv.set("hello", "again")) -- overwriting adds no key
        assert.equal("again", kv.get("hello"))
        assert.equal(2, kv.count())
        assert.is_true(kv.delete("hello"))
        assert.is_nil(kv.get("hello"))
        assert.equal(1, kv.count())
        assert.is_false(kv.delete("never there")) -- nothing to do, no error: it was not there
        assert.equal(1, kv.count())
        assert.equal("value", kv.get("other"))
      end)
    end)

    -- ------------------------------------------------ the newer requests

    it("answers delete with whether the key was there, and getdel with its value", function()
      go(function()
        kv.set("a", "1")
        assert.is_true(kv.delete("a"))
        assert.is_false(kv.delete("a"))
        assert.is_nil(kv.get("a"))
        kv.set("b", "2")
        assert.equal("2", kv.getdel("b"))
        assert.is_nil(kv.getdel("b"))
        assert.is_nil(kv.get("b"))
        kv.set("c", "3")
        assert.equal(1, kv.count())
      end)
      assert.same({ 1, nil, nil, "3" },
        { go(function() return kv.count(), kv.get("a"), kv.get("b"), kv.get("c") end) })
    end)

    it("takes set's options nx, xx and get, answering whether it set", function()
      go(function()
        assert.is_false(kv.set("k", "x", { xx = true })) -- not there: not set
        assert.is_nil(kv.get("k"))
        assert.is_true(kv.set("k", "1", { nx = true }))
        assert.is_false(kv.set("k", "2", { nx = true })) -- there: kept
        assert.equal("1", kv.get("k"))
        assert.is_true(kv.set("k", "3", { xx = true }))
        assert.equal("3", kv.set("k", "4", { get = true })) -- the old value
        assert.is_nil(kv.set("new", "v", { get = true })) -- none before
        assert.equal("4", kv.set("k", "5", { nx = true, get = true })) -- not set: still the old
        assert.equal("4", kv.get("k"))
        assert.equal("v", kv.get("new"))
        assert.matches("set's options are px, ex, nx, xx, keepttl and get",
          error_of(kv.set, "k", "v", { bogus = 1 }))
        assert.matches("nx or xx", error_of(kv.set, "k", "v", { nx = true, xx = true }))
        assert.matches("kv: px and ex are a time > 0, and only one of them",
          error_of(kv.set, "k", "v", { px = 10, ex = 1 }), 1, true)
        assert.matches("kv: px and ex are a time > 0, and only one of them",
          error_of(kv.set, "k", "v", { px = 0 }), 1, true)
        assert.matches("kv: set takes keepttl or an expiry, not both",
          error_of(kv.set, "k", "v", { px = 10, keepttl = true }), 1, true)
        assert.matches("#3 to 'kv.set' (table expected, got number)",
          error_of(kv.set, "k", "v", 5), 1, true)
        assert.equal("4", kv.get("k")) -- none of that changed anything
      end)
      assert.same({ "4", "v" }, { go(function() return kv.get("k"), kv.get("new") end) })
    end)

    it("stores numbers as their decimal text", function()
      go(function()
        assert.is_true(kv.set("int", 42))
        assert.is_true(kv.set("neg", -7))
        assert.is_true(kv.set("float", 0.1))
        assert.is_true(kv.set("big", 2 ^ 70))
        assert.is_true(kv.mset("m1", 1, "m2", 2.5))
        assert.same({ "42", "-7", "0.1", "1.1805916207174113e+21", "1", "2.5" },
          { kv.get("int"), kv.get("neg"), kv.get("float"), kv.get("big"), kv.get("m1"),
            kv.get("m2") })
        assert.equal(43, kv.incr("int"))
      end)
      assert.same({ "43", "0.1" }, { go(function() return kv.get("int"), kv.get("float") end) })
    end)

    it("exists, strlen and append", function()
      go(function()
        assert.is_false(kv.exists("a"))
        assert.equal(0, kv.strlen("a"))
        assert.equal(3, kv.append("a", "abc")) -- made by append
        assert.is_true(kv.exists("a"))
        assert.equal(6, kv.append("a", "def"))
        assert.equal(8, kv.append("a", 12))
        assert.equal("abcdef12", kv.get("a"))
        assert.equal(8, kv.strlen("a"))
        -- the protocol's exists counts the keys given, twice if given twice
        assert.equal(2, actor.call("router", "kv", "exists", "a", "nope", "a"))
      end)
      assert.equal("abcdef12", go(function() return kv.get("a") end))
    end)

    it("incr: adds to a decimal integer, refuses anything else and overflow, changing nothing",
      function()
      go(function()
        assert.equal(1, kv.incr("n")) -- missing counts as 0
        assert.equal(11, kv.incr("n", 10))
        assert.equal(-9, kv.incr("n", -20))
        assert.equal("-9", kv.get("n"))
        local not_integer = "kv: the value is not an integer or out of range"
        for _, v in ipairs { "abc", "", " 1", "1 ", "+1", "01", "1.5", "1e3", "-0",
          "9223372036854775808", "-9223372036854775809" } do
          kv.set("s", v)
          assert.equal(not_integer, error_of(kv.incr, "s"):match("kv: .*"), ("%q"):format(v))
          assert.equal(v, kv.get("s"))
        end
        kv.set("max", tostring(math.maxinteger))
        assert.equal("kv: increment or decrement would overflow",
          error_of(kv.incr, "max"):match("kv: .*"))
        kv.set("min", tostring(math.mininteger))
        assert.equal("kv: increment or decrement would overflow",
          error_of(kv.incr, "min", -1):match("kv: .*"))
        assert.equal(-1, kv.incr("min", math.maxinteger))
        assert.equal(tostring(math.maxinteger), kv.get("max"))
        assert.matches("#2 to 'kv.incr' (number has no integer representation)",
          error_of(kv.incr, "n", 1.5), 1, true)
        -- the expiry is kept
        kv.set("t", "5", { ex = 100 })
        assert.equal(6, kv.incr("t"))
        assert.is_true(kv.pttl("t") > 90000)
      end)
      assert.same({ "-9", "-1" },
        { go(function() return kv.get("n"), kv.get("min") end) })
    end)

    it("mget and mset: several keys at once, mset all or nothing", function()
      go(function()
        assert.is_true(kv.mset { a = "1", b = "2" })
        assert.is_true(kv.mset("c", "3", "d", "4"))
        assert.same({ "1", "2", nil, "4", n = 4 }, table.pack(kv.mget("a", "b", "x", "d")))
        -- one bad pair refuses the whole request: nothing of it is set
        assert.matches("key", error_of(actor.call, "router", "kv", "mset", "e", "5", "", "6"))
        assert.matches("value", error_of(actor.call, "router", "kv", "mset", "e", "5", "f", {}))
        assert.matches("pairs", error_of(actor.call, "router", "kv", "mset", "e", "5", "f"))
        assert.is_nil(kv.get("e"))
        assert.matches("#4 to 'kv.mset'", error_of(kv.mset, "e", "5", "f"), 1, true)
        assert.matches("#1 to 'kv.mset'", error_of(kv.mset, { [1] = "x" }), 1, true)
        -- mset clears expiries
        kv.set("a", "old", { ex = 100 })
        kv.mset("a", "new")
        assert.equal(-1, kv.ttl("a"))
        assert.equal(4, kv.count())
      end)
      assert.same({ 4, "new", "2", "3", "4" }, { go(function()
        return kv.count(), kv.mget("a", "b", "c", "d")
      end) })
    end)

    it("keys: the keys matching a glob pattern", function()
      go(function()
        kv.mset("user:1", "a", "user:2", "b", "user:10", "c", "admin", "d", "h?llo", "e",
          "[x]", "f", "a.b", "g")
        local function keys(p)
          local k = kv.keys(p)
          table.sort(k)
          return table.concat(k, " ")
        end
        assert.equal("[x] a.b admin h?llo user:1 user:10 user:2", keys("*"))
        assert.equal(keys("*"), keys())
        assert.equal("user:1 user:10 user:2", keys("user:*"))
        assert.equal("user:1 user:2", keys("user:?"))
        assert.equal("user:1 user:2", keys("user:[12]"))
        assert.equal("user:2", keys("user:[^1]"))
        assert.equal("user:1 user:2", keys("user:[0-9]"))
        assert.equal("h?llo", keys("h\\?llo"))
        assert.equal("[x]", keys("\\[x\\]"))
        assert.equal("a.b", keys("a.b"))
        assert.equal("", keys("a%b"))
        assert.equal("", keys("nothing*"))
      end)
    end)

    it("scan: each key there for the whole scan exactly once, while keys come and go", function()
      go(function()
        local base, tmp = {}, {}
        for i = 1, 300 do
          base["base:" .. i] = "b"
          tmp["tmp:" .. i] = "t"
        end
        kv.mset(base)
        kv.mset(tmp)
        local seen, cursor, round, added = {}, 0, 0, 0
        repeat
          local keys
          cursor, keys = kv.scan(cursor, nil, 7)
          for _, k in ipairs(keys) do seen[k] = (seen[k] or 0) + 1 end
          round = round + 1
          -- meanwhile: keys are added (the store's tables grow: 1500 more
          -- by the end) and removed
          for _ = 1, 5 do
            added = added + 1
            kv.set("new:" .. added, "n")
          end
          for j = 1, 3 do kv.delete("tmp:" .. (round * 3 + j) % 300 + 1) end
          assert(round < 2000, "the scan does not end")
        until cursor == 0
        for k in pairs(base) do assert.equal(1, seen[k], k) end
        for k, n in pairs(seen) do assert(n == 1, k .. " came " .. n .. " times") end
        -- a pattern and a count
        local got, n = {}, 0
        cursor = 0
        repeat
          local keys
          cursor, keys = kv.scan(cursor, "base:1?", 50)
          for _, k in ipairs(keys) do got[#got + 1] = k end
          n = n + 1
        until cursor == 0
        table.sort(got)
        assert.equal("base:10 base:11 base:12 base:13 base:14 base:15 base:16 base:17 base:18 "
          .. "base:19", table.concat(got, " "))
        assert.matches("#1 to 'kv.scan'", error_of(kv.scan, -1), 1, true)
      end)
    end)

    it("expires keys: ttl, pttl, expire, pexpire, persist; count stays exact", function()
      go(function()
        assert.equal(-2, kv.ttl("none"))
        kv.set("plain", "p")
        assert.equal(-1, kv.ttl("plain"))
        assert.equal(-1, kv.pttl("plain"))
        kv.set("soon", "s", { px = 100 })
        kv.set("later", "l", { ex = 100 })
        local ttl = kv.ttl("later")
        assert.is_true(ttl > 99 and ttl <= 100, tostring(ttl))
        assert.is_true(kv.pttl("soon") <= 100)
        assert.is_true(kv.expire("plain", 100))
        assert.is_false(kv.expire("none", 100))
        assert.is_true(kv.persist("plain"))
        assert.is_false(kv.persist("plain")) -- no expiry left to remove
        assert.equal(-1, kv.ttl("plain"))
        -- a set clears the expiry, but with keepttl
        kv.set("k", "1", { ex = 100 })
        kv.set("k", "2", { keepttl = true })
        assert.is_true(kv.ttl("k") > 99)
        kv.set("k", "3")
        assert.equal(-1, kv.ttl("k"))
        -- expire <= 0 removes the key
        assert.is_true(kv.pexpire("k", 0))
        assert.is_nil(kv.get("k"))
        assert.equal(3, kv.count())
        assert.same({ keys = 3, expiring = 2, bytes = 5 + 1 + 4 + 1 + 5 + 1 }, kv.stats())
        kv.pexpire("plain", 50)
        actor.sleep(150) -- time passing is the point: "soon" and "plain" are past theirs
        assert.equal(1, kv.count()) -- exact, with nothing read since
        assert.is_nil(kv.get("soon"))
        assert.equal(-2, kv.ttl("soon"))
        assert.is_false(kv.exists("plain"))
        assert.equal("l", kv.get("later"))
        assert.same({ keys = 1, expiring = 1, bytes = 5 + 1 }, kv.stats())
      end)
    end)

    it("keeps expiry times across a restart of the host, and drops what expired meanwhile",
      function()
      go(function()
        kv.set("long", "l", { ex = 100 })
        kv.set("short", "s", { px = 300 })
        kv.set("kept", "k")
        kv.set("expiring", "e")
        assert.is_true(kv.expire("expiring", 100))
      end)
      local got = { go(function()
        local long, short = kv.pttl("long"), kv.pttl("short")
        actor.sleep(400) -- past short's time
        return long, short, kv.get("short"), kv.count(), kv.ttl("kept"), kv.ttl("expiring")
      end) }
      assert.is_true(got[1] > 90000 and got[1] <= 100000, tostring(got[1]))
      assert.is_true(got[2] > 0 and got[2] <= 300, tostring(got[2]))
      assert.is_nil(got[3])
      assert.equal(3, got[4])
      assert.equal(-1, got[5])
      assert.is_true(got[6] > 90, tostring(got[6]))
      -- the writer gives no expired key: the count is exact from the start
      assert.same({ 3, 2, nil }, { go(function()
        return kv.count(), kv.stats().expiring, kv.get("short")
      end) })
      if pair.writer == "json" then
        local text = read(dir .. "/data.json")
        assert.matches('"long":{"value":%[108%],"expires":%d+}', text)
        assert.matches('"kept":[107]', text, 1, true)
      end
    end)

    it("agrees with a model over a random mix of requests, and again after a restart", function()
      local names = { "a", "b", "c", "d", "e", "f", "n1", "n2" }
      local model = {} -- key -> { v = text, exp = whether it expires }
      local function pick(rnd, t) return t[rnd(#t)] end
      local function state()
        local s, there = {}, {}
        for k in pairs(model) do there[#there + 1] = k end
        table.sort(there)
        for _, k in ipairs(there) do
          s[#s + 1] = k .. "=" .. model[k].v .. (model[k].exp and "~" or "")
        end
        return table.concat(s, " ")
      end
      -- what the store holds, in the model's words (an expiry as "~")
      local function held()
        local there = kv.keys("*")
        table.sort(there)
        local s = {}
        for _, k in ipairs(there) do
          s[#s + 1] = k .. "=" .. kv.get(k) .. (kv.ttl(k) > 0 and "~" or "")
        end
        return table.concat(s, " "), kv.count()
      end
      local want = go(function()
        local x = 12345
        local function rnd(n)
          x = (x * 1103515245 + 12345) % 2147483648
          return x % n + 1
        end
        for step = 1, 600 do
          local op, k = rnd(11), pick(rnd, names)
          local m = model[k]
          local where = "step " .. step .. " op " .. op .. " key " .. k
          if op == 1 then
            assert.equal(m and m.v, kv.get(k), where)
          elseif op == 2 then
            local v = rnd(3) == 1 and rnd(100) or "v" .. step
            local opts = ({ {}, { nx = true }, { xx = true }, { get = true }, { ex = 1000 },
              { keepttl = true }, { px = 1000000, get = true } })[rnd(7)]
            local answer = kv.set(k, v, opts)
            local set = not (opts.nx and m) and not (opts.xx and not m)
            if opts.get then
              assert.equal(m and m.v, answer, where)
            else
              assert.equal(set, answer, where)
            end
            if set then
              model[k] = { v = tostring(v), exp = (opts.ex or opts.px) and true
                or (opts.keepttl and m and m.exp) or false }
            end
          elseif op == 3 then
            assert.equal(m ~= nil, kv.delete(k), where)
            model[k] = nil
          elseif op == 4 then
            assert.equal(m and m.v, kv.getdel(k), where)
            model[k] = nil
          elseif op == 5 then
            assert.equal(m ~= nil, kv.exists(k), where)
            assert.equal(m and #m.v or 0, kv.strlen(k), where)
          elseif op == 6 then
            local n = m and math.tointeger(tonumber(m.v))
            if m and not (n and tostring(n) == m.v) then
              assert.matches("not an integer", error_of(kv.incr, k, 3), 1, true)
            else
              assert.equal((n or 0) + 3, kv.incr(k, 3), where)
              model[k] = { v = tostring((n or 0) + 3), exp = m and m.exp or false }
            end
          elseif op == 7 then
            local more = "+" .. step
            assert.equal(#(m and m.v or "") + #more, kv.append(k, more), where)
            model[k] = { v = (m and m.v or "") .. more, exp = m and m.exp or false }
          elseif op == 8 then
            local k2 = pick(rnd, names)
            assert.is_true(kv.mset(k, "m" .. step, k2, step))
            model[k] = { v = "m" .. step, exp = false }
            model[k2] = { v = tostring(step), exp = false }
          elseif op == 9 then
            local secs = rnd(4) == 1 and 0 or 1000
            assert.equal(m ~= nil, kv.expire(k, secs), where)
            if m then model[k] = secs > 0 and { v = m.v, exp = true } or nil end
          elseif op == 10 then
            assert.equal(m ~= nil and m.exp, kv.persist(k), where)
            if m then m.exp = false end
          else
            local ttl = kv.ttl(k)
            assert.equal(not m and -2 or not m.exp and -1 or 1, ttl > 0 and 1 or ttl, where)
          end
        end
        local got, count = held()
        assert.equal(state(), got)
        local n = 0
        for _ in pairs(model) do n = n + 1 end
        assert.equal(n, count)
        return got
      end)
      assert.equal(want, go(function() return (held()) end))
    end)

    it("flush removes every key, for good", function()
      go(function()
        kv.mset("a", "1", "b", "2")
        kv.set("c", "3", { ex = 100 })
        assert.is_true(kv.flush())
        assert.equal(0, kv.count())
        assert.is_nil(kv.get("a"))
        assert.same({ keys = 0, expiring = 0, bytes = 0 }, kv.stats())
        kv.set("after", "x")
      end)
      assert.same({ 1, nil, "x" }, { go(function()
        return kv.count(), kv.get("a"), kv.get("after")
      end) })
    end)

    it("keeps binary keys and values, a 1 MiB one too, across a restart of the host", function()
      local cases = binary_cases()
      -- a JSON key is text: the JSON writer takes valid UTF-8 keys only
      -- (spec/jsonwriter_spec.lua); values are any bytes under both writers
      if pair.writer == "json" then cases["\xff\xfe\xc3\x28"] = nil end
      go(function()
        for k, v in pairs(cases) do assert.is_true(kv.set(k, v)) end
        for k, v in pairs(cases) do
          assert(kv.get(k) == v, "wrong value for a key of " .. #k .. " bytes")
        end
      end)
      local n, same = go(function()
        local same = 0
        for k, v in pairs(cases) do
          if kv.get(k) == v then same = same + 1 end
        end
        return kv.count(), same
      end)
      local count = 0
      for _ in pairs(cases) do count = count + 1 end
      assert.equal(count, n)
      assert.equal(count, same)
    end)

    it("refuses what is past the limits, clearly, and changes nothing", function()
      go(function()
        kv.set("k", "old")
        assert.matches("key", error_of(kv.set, "", "x"))
        assert.matches("key", error_of(kv.get, ""))
        assert.matches("key", error_of(kv.delete, ""))
        assert.matches("65535", error_of(kv.set, string.rep("x", MAX_KEY + 1), "x"))
        assert.matches("65535", error_of(kv.get, string.rep("x", MAX_KEY + 1)))
        assert.matches("16777216", error_of(kv.set, "k", string.rep("v", MAX_VALUE + 1)))
        assert.matches("#1 to 'kv.set' (string expected", error_of(kv.set, 42, "x"), 1, true)
        assert.matches("#1 to 'kv.set' (string expected", error_of(kv.set, { "a table" }, "x"),
          1, true)
        assert.matches("#2 to 'kv.set' (string or number expected, got boolean)",
          error_of(kv.set, "k", true), 1, true)
        assert.matches("#2 to 'kv.set' (string or number expected, got table)",
          error_of(kv.set, "k", { "a table" }), 1, true)
        assert.matches("value", error_of(kv.set, "k"))
        assert.matches("unknown", error_of(actor.call, "router", "kv", "rename", "k", "j"))
        -- as sends (nobody to answer) they are dropped, and the store goes on
        local store = actor.whereis("kv")
        actor.send(store, "kv", "set", "", "x")
        actor.send(store, "kv", "set", "k", true)
        actor.send(store, "kv", "get", "")
        actor.send(store, "kv", "rename", "k", "j")
        assert.equal("old", kv.get("k"))
        assert.equal(1, kv.count())
        assert.equal(tostring(store), tostring(actor.whereis("kv")))
      end)
      -- and nothing of it was written down
      assert.same({ 1, "old" }, { go(function() return kv.count(), kv.get("k") end) })
    end)

    -- The writer says in its load reply which keys it can write: the JSON
    -- writer UTF-8 only, the log writer any bytes. The store refuses what
    -- its writer cannot write before applying it, so no reader ever sees it.
    it(pair.writer == "json"
      and "refuses a key that is not UTF-8 itself: a reader right behind the set sees nothing"
      or "takes a key that is not UTF-8: a reader right behind the set sees it", function()
      local bad = "\xff\xfe\xc3\x28"
      local seen, err, got, count = go(function()
        assert.equal(0, kv.count()) -- the store is up: its pid, to queue behind the set
        local store, root = actor.whereis("kv"), actor.self()
        local reader = actor.spawn(function()
          actor.receive() -- "go": the set is in the store's mailbox ahead of this get
          actor.send(root, "saw", actor.call(store, "kv", "get", bad))
        end)
        actor.send(store, "kv", "set", bad, "x") -- a send: nobody to answer
        actor.send(reader, "go")
        local saw = H.expect("saw")
        local ok, e = pcall(kv.set, bad, "y")
        return saw, not ok and tostring(e) or ok, kv.get(bad), kv.count()
      end)
      if pair.writer == "json" then
        assert.is_nil(seen)
        assert.matches('kv: the key "\\xff\\xfe\\xc3(" is not valid UTF-8, and a JSON key is '
          .. "text (the log writer takes any bytes)", err, 1, true)
        assert.is_nil(got)
        assert.equal(0, count)
        assert.equal("{}", read(dir .. "/data.json") or "{}")
        assert.same({ 0 }, { go(function() return kv.count(), kv.get(bad) end) })
      else
        assert.same({ "x", true, "y", 1 }, { seen, err, got, count })
        assert.same({ 1, "y" }, { go(function() return kv.count(), kv.get(bad) end) })
      end
    end)

    it("finds what earlier runs left, run after run", function()
      go(function()
        kv.set("a", "1")
        kv.set("b", "2")
        kv.set("c", "3")
        kv.delete("b")
        kv.set("c", "three")
      end)
      local got = { go(function()
        local found = { kv.info(), kv.count(), kv.get("a"), kv.get("b"), kv.get("c") }
        kv.set("d", "4")
        kv.delete("a")
        return table.unpack(found, 1, 5)
      end) }
      assert.matches("loaded 2 keys", got[1])
      assert.same({ 2, "1", nil, "three" }, { got[2], got[3], got[4], got[5] })
      assert.same({ 2, nil, "three", "4" },
        { go(function() return kv.count(), kv.get("a"), kv.get("c"), kv.get("d") end) })
    end)

    it("restarts the store and its writer on actor.reset('kv'); the new store reloads", function()
      go(function()
        kv.set("kept", "across the reset")
        local store, writer = actor.whereis("kv"), actor.whereis("kv.writer")
        assert.equal("ok", actor.reset("kv"))
        assert.is_truthy(actor.whereis("kv"))
        assert.are_not.equal(tostring(store), tostring(actor.whereis("kv")))
        assert.are_not.equal(tostring(writer), tostring(actor.whereis("kv.writer")))
        assert.is_false(actor.alive(store))
        assert.is_false(actor.alive(writer))
        assert.matches("loaded 1 key", kv.info())
        assert.equal("across the reset", kv.get("kept"))
        assert.is_true(kv.set("after", "the reset"))
        assert.equal(2, kv.count())
      end)
      assert.same({ 2, "the reset" }, { go(function() return kv.count(), kv.get("after") end) })
    end)

    it("answers every request of a steady stream across a reset", function()
      local reports = go(function()
        kv.count() -- the pair runs
        local store, writer = actor.whereis("kv"), actor.whereis("kv.writer")
        local reports = stream(function()
          -- more mail for the store as the reset comes
          for i = 1, 5 do actor.send(store, "kv", "set", "queued" .. i, "yes") end
          assert.equal("ok", actor.reset("kv"))
        end)
        assert.are_not.equal(tostring(store), tostring(actor.whereis("kv")))
        assert.are_not.equal(tostring(writer), tostring(actor.whereis("kv.writer")))
        check_reports(reports, 1, { "down: reset", "down: restart" })
        assert.equal(CLIENTS * KEYS, check_data(reports))
        for i = 1, 5 do assert.equal("yes", kv.get("queued" .. i)) end
        return reports
      end)
      go(function() -- and after a restart of the host
        assert.equal(CLIENTS * KEYS, check_data(reports))
        assert.equal(CLIENTS * KEYS + 5, kv.count())
      end)
    end)

    it("answers every request across a crash of the store; it restarts with its writer", function()
      local reports = go(function()
        local store, writer
        local reports = stream(function()
          store, writer = actor.whereis("kv"), actor.whereis("kv.writer")
          -- sends left in the dead store's mailbox go to the new one
          for i = 1, 5 do actor.send(store, "kv", "set", "queued" .. i, "yes") end
          assert.is_true(actor.kill(store, "crash test"))
        end)
        assert.are_not.equal(tostring(store), tostring(actor.whereis("kv")))
        assert.are_not.equal(tostring(writer), tostring(actor.whereis("kv.writer")))
        -- only a request the store was in the middle of may fail, saying why
        check_reports(reports, 1, { "down: crash test" })
        for i = 1, 5 do assert.equal("yes", kv.get("queued" .. i)) end
        return reports
      end)
      go(function()
        assert.equal(CLIENTS * KEYS, check_data(reports))
        assert.equal(CLIENTS * KEYS + 5, kv.count())
      end)
    end)

    it("accepts the fsync policies always, everysec and no, keeping the data", function()
      go(function()
        kv.set("a", "1")
        local s = stats()
        assert.is_true(s.flushes >= 1)
        assert.equal(s.flushes, s.fsyncs) -- each write fsynced before it was answered
      end, { fsync = "always" })
      go(function()
        for i = 1, 3 do kv.set("b" .. i, "2") end
        local s = stats()
        assert.is_true(s.flushes >= 1)
        assert.equal(0, s.fsyncs)
      end, { fsync = "no" })
      go(function()
        kv.set("c", "3")
        assert.equal(0, stats().fsyncs) -- not yet: within the second
        actor.sleep(1300)
        assert.equal(1, stats().fsyncs)
      end, { fsync = "everysec" })
      assert.same({ 5, "1", "2", "3" },
        { go(function() return kv.count(), kv.get("a"), kv.get("b3"), kv.get("c") end) })
      assert.matches("fsync must be one of everysec always no",
        error_of(actor.configure, { fsync = "sometimes" }))
    end)

    it("answers a second host on the same data directory with one error naming the holder",
      function()
      local script = 'local kv = require "actor.kv"; print("RESULT", pcall(kv.set, "x", "y"))'
      local cmd = ("%s --data-dir '%s' --store %s --writer %s -e '%s' 2>&1"):format(
        BIN, dir, pair.store, pair.writer, script)
      local function second_host()
        local p = assert(io.popen(cmd))
        local out = p:read("a")
        p:close()
        return out
      end
      local out = go(function()
        kv.set("mine", "1") -- the writer runs, holding the lock
        return second_host()
      end)
      -- the request's error names the holder; the log says so once, and
      -- nothing restarts: no cascade of lines
      local holder = "data directory " .. dir .. " is in use (pid " .. our_pid() .. ")"
      local result, said = nil, 0
      for line in out:gmatch("[^\n]+") do
        if line:find("RESULT", 1, true) == 1 then
          result = line
        elseif line:find(holder, 1, true) then
          said = said + 1
        else
          error("an unexpected line: " .. line)
        end
      end
      assert.matches("^RESULT\tfalse\t", result)
      assert.matches(holder, result, 1, true)
      assert.equal(1, said)
      -- the holder is unharmed, and once it is gone the directory is free
      out = second_host()
      assert.matches("RESULT\ttrue\ttrue", out, 1, true)
      assert.same({ "1", "y" }, { go(function() return kv.get("mine"), kv.get("x") end) })
    end)

    it("cannot start on a data directory that cannot be made, and says so on every call", function()
      local blocker = os.tmpname() -- a regular file: nothing can be made under it
      local errs = { go(function()
        return error_of(kv.get, "a"), error_of(kv.set, "a", "b")
      end, { data_dir = blocker .. "/data" }) }
      os.remove(blocker)
      for _, e in ipairs(errs) do
        assert.matches("cannot create the data directory " .. blocker .. "/data", e, 1, true)
      end
    end)

    if pair.writer == "json" then
      it("writes data.json in the reference format, and starts empty without one", function()
        local info = go(function()
          local info = kv.info()
          kv.set("hello", "world")
          return info
        end)
        assert.matches("no " .. dir .. "/data.json yet: starting empty", info, 1, true)
        assert.equal('{"hello":[119,111,114,108,100]}', read(dir .. "/data.json"))
        assert.same({ "LOCK", "data.json" }, list(dir))
      end)

      -- Writes `text` as data.json, runs, and checks the bad file was kept
      -- aside untouched and the store started empty; returns the info line.
      local function bad_file(text, d)
        d = d or dir
        assert(file.mkdir(d))
        write(d .. "/data.json", text)
        local info, count = run(pair, d, function()
          local info, count = kv.info(), kv.count()
          kv.set("new", "data") -- a write does not touch the bad file
          return info, count
        end)
        assert.equal(0, count)
        assert.matches("cannot be read", info, 1, true)
        local aside = info:match("kept aside as (.-); starting empty")
        assert.is_truthy(aside, info)
        assert.equal(text, read(aside))
        assert.equal('{"new":[100,97,116,97]}', read(d .. "/data.json"))
        return info
      end

      it("keeps a corrupt data.json aside and starts empty, saying so", function()
        local first = bad_file('{"hello":[119,111,1')
        assert.matches("not valid JSON", first)
        -- a second bad file does not take the first one's place
        write(dir .. "/data.json", "garbage")
        local info = go(function() return kv.info() end)
        local second = info:match("kept aside as (.-); starting empty")
        assert.are_not.equal(first:match("kept aside as (.-); starting empty"), second)
        assert.equal("garbage", read(second))
        assert.equal('{"hello":[119,111,1', read(first:match("kept aside as (.-); starting empty")))
        assert.equal(3, #list(dir)) -- LOCK and the two kept aside: no data.json yet
      end)

      it("keeps an empty data.json aside and starts empty, saying so", function()
        assert.matches("it is empty", bad_file(""))
        remove_tree(dir)
        assert.matches("it is empty", bad_file(" \n\t"))
      end)

      it("keeps a data.json of the wrong shape aside and starts empty, saying so", function()
        local shapes = {
          ["null"] = "not a JSON object",
          ['"a string"'] = "not a JSON object",
          ["[1,2,3]"] = "the top level is an array, not a JSON object",
          ['{"a":"text"}'] = "is not an array",
          ['{"a":[1,300]}'] = "other than bytes",
          ['{"a":[1.5]}'] = "other than bytes",
          ['{"a":[104,"i"]}'] = "other than bytes",
        }
        local i = 0
        assert(file.mkdir(dir))
        for text, why in pairs(shapes) do
          i = i + 1
          assert.matches(why, bad_file(text, dir .. "/" .. i), 1, true)
        end
      end)

      it("answers a failed write with a clear error, then refuses changes, reads go on", function()
        local real = file.write_atomic
        finally(function() file.write_atomic = real end)
        go(function()
          kv.set("a", "1")
          file.write_atomic = function() return nil, "no space left on the test device" end
          assert.matches("write failed: no space left on the test device",
            error_of(kv.set, "b", "2"))
          assert.matches("no space left on the test device", error_of(kv.set, "c", "3"))
          assert.matches("no space left on the test device", error_of(kv.delete, "a"))
          assert.equal("1", kv.get("a")) -- reads go on
          assert.is_nil(kv.get("c"))
          -- fixed, a restart of the pair takes changes again, from the file
          file.write_atomic = real
          assert.equal("ok", actor.reset("kv"))
          assert.equal(1, kv.count())
          assert.is_nil(kv.get("b")) -- never acknowledged, never written
          assert.is_true(kv.set("d", "4"))
        end)
        assert.same({ 2, "1", "4" },
          { go(function() return kv.count(), kv.get("a"), kv.get("d") end) })
      end)

      it("holds no change its writer could not take, when the writer's mailbox is full", function()
        local real = file.write_atomic
        finally(function() file.write_atomic = real end)
        local count = go(function()
          local root = actor.self()
          kv.count() -- the pair runs
          file.write_atomic = function(...) -- the next write waits for the root's word
            file.write_atomic = real
            actor.call(root, "stalled")
            return real(...)
          end
          actor.spawn(function()
            kv.set("first", "1")
            actor.send(root, "done")
          end)
          H.expect("stalled")
          -- the writer's mailbox fills up (and past it) while it waits
          local store = actor.whereis("kv")
          for i = 1, 1500 do actor.send(store, "kv", "set", "k" .. i, "v") end
          -- The Lua store has passed every one on (or failed to) once it
          -- answers this; the native one waits for room at the writer
          -- instead, so it would not answer before the writer goes on.
          if pair.store == "lua" then kv.count() end
          actor.reply(true)
          H.expect("done")
          local count, keys = kv.count(), stats().keys
          assert.equal(keys, count) -- the store and its writer agree
          assert.is_true(count > 1024)
          return count
        end)
        assert.equal(count, go(function() return kv.count() end))
      end)

      it("answers every request across a crash of the writer in the middle of a write", function()
        local real = file.write_atomic
        finally(function() file.write_atomic = real end)
        local reports = go(function()
          local writer
          local reports = stream(function()
            writer = actor.whereis("kv.writer")
            file.write_atomic = function() -- the next write crashes the writer, once
              file.write_atomic = real
              error("crash in the middle of a write")
            end
          end)
          assert.are_not.equal(tostring(writer), tostring(actor.whereis("kv.writer")))
          -- the callers of the write that crashed, and of changes that
          -- reached the store before it was restarted with the writer
          check_reports(reports, CLIENTS,
            { "crash in the middle of a write", "the writer is not running; nothing was changed" })
          assert.equal(CLIENTS * KEYS, check_data(reports))
          return reports
        end)
        go(function() assert.equal(CLIENTS * KEYS, check_data(reports)) end)
      end)
    else
      -- kv.log: an 8-byte header, then records of u32 length, u32 crc and a
      -- body; a set's body is 'S', u32 key length, key, u32 value length, value.
      local HEADER = 8
      local function set_record_size(key, value) return 8 + 1 + 4 + #key + 4 + #value end

      local function three_keys()
        go(function()
          kv.set("k1", "value-1")
          kv.set("k2", "value-2")
          kv.set("k3", "value-3")
        end)
        local log = read(dir .. "/kv.log")
        assert.equal(HEADER + 3 * set_record_size("k1", "value-1"), #log)
        return log
      end

      it("starts empty in a new data directory, saying so", function()
        assert.matches("loaded 0 keys .*a new data directory", go(function() return kv.info() end))
        assert.same({ "LOCK", "kv.log" }, list(dir))
      end)

      it("loads the valid prefix of a log cut off mid-record, saying what it dropped", function()
        local log = three_keys()
        write(dir .. "/kv.log", log:sub(1, #log - 3))
        local info, got = go(function()
          return kv.info(), { kv.count(), kv.get("k1"), kv.get("k2"), kv.get("k3") }
        end)
        local dropped = set_record_size("k3", "value-3") - 3
        assert.matches("loaded 2 keys", info, 1, true)
        assert.matches("dropped a torn tail of " .. dropped .. " bytes", info, 1, true)
        assert.same({ 2, "value-1", "value-2", nil }, got)
        assert.equal(#log - set_record_size("k3", "value-3"), #read(dir .. "/kv.log"))
        -- the log is whole again: the next run drops nothing, and writes go on
        info = go(function()
          kv.set("k4", "value-4")
          return kv.info()
        end)
        assert.is_nil(info:find("dropped"))
        assert.same({ 3, "value-4" }, { go(function() return kv.count(), kv.get("k4") end) })
      end)

      it("keeps a corrupt log tail aside and loads what came before it", function()
        local log = three_keys()
        local junk = string.rep("\xab", 40) -- no record: a tail, not a hole
        write(dir .. "/kv.log", log .. junk)
        local info, got = go(function()
          return kv.info(), { kv.count(), kv.get("k1"), kv.get("k2"), kv.get("k3") }
        end)
        assert.same({ 3, "value-1", "value-2", "value-3" }, got)
        local aside = info:match("dropped 40 corrupt bytes, kept in (kv%.log%.corrupt%-[%d-]+)")
        assert.is_truthy(aside, info)
        assert.equal(junk, read(dir .. "/" .. aside))
        assert.equal(log, read(dir .. "/kv.log"))
      end)

      it("skips a damaged record in the middle of the log, loses nothing after it, and repairs",
        function()
          local log = three_keys()
          local second = HEADER + set_record_size("k1", "value-1") -- offset of record 2
          local at = second + 8 + 1 + 4 + 2 + 4 + 3 -- a byte of its value
          local damaged = log:sub(1, at - 1) .. "X" .. log:sub(at + 1)
          write(dir .. "/kv.log", damaged)
          local info, got = go(function()
            return kv.info(), { kv.count(), kv.get("k1"), kv.get("k2"), kv.get("k3") }
          end)
          -- k3 was acknowledged after the damaged k2: it is there
          assert.same({ 2, "value-1", nil, "value-3" }, got)
          local size = set_record_size("k2", "value-2")
          assert.matches(("skipped %d damaged bytes of kv.log: %d bytes at offset %d "
            .. '(a set of "k2")'):format(size, size, second), info, 1, true)
          local aside = info:match("the damaged log was moved to (kv%.log%.corrupt%-[%d-]+)")
          assert.is_truthy(aside, info)
          assert.equal(damaged, read(dir .. "/" .. aside)) -- kept whole
          assert.equal(HEADER, #read(dir .. "/kv.log")) -- a new log, and the
          assert.is_truthy(read(dir .. "/kv.snap"))    -- data in a snapshot
          info, got = go(function()
            kv.set("k4", "value-4")
            return kv.info(), { kv.count(), kv.get("k1"), kv.get("k3") }
          end)
          assert.is_nil(info:find("damaged"))
          assert.same({ 3, "value-1", "value-3" }, got)
          assert.same({ 3, "value-3", "value-4" },
            { go(function() return kv.count(), kv.get("k3"), kv.get("k4") end) })
        end)

      it("starts empty on an empty log, saying so, and logs on", function()
        assert(file.mkdir(dir))
        write(dir .. "/kv.log", "")
        local info = go(function()
          kv.set("a", "1")
          return kv.info()
        end)
        assert.matches("loaded 0 keys .*the log was empty", info)
        assert.same({ 1, "1" }, { go(function() return kv.count(), kv.get("a") end) })
      end)

      it("refuses to start on a kv.log that is no log, leaving it as it is", function()
        assert(file.mkdir(dir))
        write(dir .. "/kv.log", "this is somebody else's file")
        local err = go(function() return error_of(kv.get, "a") end)
        assert.matches(dir .. "/kv.log is not a troupe data file (unknown header) "
          .. "(the file is left as it is)", err, 1, true)
        assert.equal("this is somebody else's file", read(dir .. "/kv.log"))
      end)
    end
  end)
end
