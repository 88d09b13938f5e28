-- The JSON writer (actor.jsonwriter) where it can fail: a directory or a
-- file it cannot write or read, keys JSON cannot hold, being stopped with
-- changes in hand, a data.json a crash or a person damaged; and the Lua
-- store's deliberate reset, and errors raised while an actor ends. Each
-- test has a data directory of its own, removed afterwards; a "restart of
-- the host" is a second actor.run on the same directory. Waiting is for
-- messages, with a receive timeout as the safety net.
local actor = require "actor"
local kv = require "actor.kv"
local file = require "actor.file"
local cjson = require "cjson"
local H = require "support.helpers"

local BIN = os.getenv("TROUPE_BIN")

-- ------------------------------------------------------------- helpers

local fresh_dir, quote, remove_tree = H.fresh_dir, H.quote, H.remove_tree
local read, write, exists, error_of = H.read, H.write, H.exists, H.error_of

-- Runs fn as the root actor of a fresh host whose store is `store` + the
-- JSON writer on dir (fsync "no" unless settings say otherwise).
local function run(store, dir, fn, settings)
  return H.run_store({ store = store, writer = "json", data_dir = dir }, fn, settings)
end

-- What a request gives: its result, or the text of its error.
local function outcome(fn, ...)
  local ok, v = pcall(fn, ...)
  if ok then return v end
  return "error: " .. tostring(v)
end

-- data.json as a JSON parser reads it: key -> the string of its bytes.
-- Fails unless the text is valid UTF-8 (JSON text is Unicode) and an
-- object of key -> array of byte values.
local function parse_file(path)
  local text = assert(read(path), "no " .. path)
  assert(utf8.len(text), "data.json is not valid UTF-8")
  assert(text:match("^{") and text:match("}$"), "data.json is not one object")
  local data = {}
  for k, v in pairs(cjson.decode(text)) do
    local bytes = {}
    for i, b in ipairs(v) do
      assert(math.tointeger(b) and b >= 0 and b <= 255, "not a byte") -- cjson: floats
      bytes[i] = string.char(math.tointeger(b))
    end
    data[k] = table.concat(bytes)
  end
  return data
end

-- Whether chattr +i makes a directory unwritable here, root included.
local function immutable_works()
  local d = fresh_dir()
  assert(file.mkdir(d))
  local ok = os.execute("chattr +i " .. quote(d) .. " 2>/dev/null")
  local f = ok and io.open(d .. "/probe", "wb")
  if f then f:close() end
  remove_tree(d)
  return ok and not f
end

-- ----------------------------------------------------------------- specs

for _, store in ipairs { "c", "lua" } do
  describe("the JSON writer (" .. store .. " store)", function()
    local dir

    before_each(function() dir = fresh_dir() end)
    after_each(function() remove_tree(dir) end)

    local function go(fn, settings) return run(store, dir, fn, settings) end

    -- ------------------------------------------- unwritable, unreadable

    local chattr = immutable_works() and it or pending
    chattr("starts read-only in a directory it cannot write: reads go on, changes are refused "
      .. "with the cause", function()
      go(function() assert.is_true(kv.set("kept", "yes")) end)
      os.remove(dir .. "/LOCK") -- as if no writer ever ran here: it cannot be made now
      assert(os.execute("chattr +i " .. quote(dir)))
      local got = { go(function()
        return outcome(kv.get, "kept"), outcome(kv.count), outcome(kv.info),
          outcome(kv.set, "new", "x"), outcome(kv.delete, "kept"), outcome(kv.get, "new")
      end) }
      assert.equal("yes", got[1])
      assert.equal(1, got[2])
      assert.matches("loaded 1 key .*read%-only: the data directory .* is not writable", got[3])
      for _, refused in ipairs { got[4], got[5] } do
        assert.matches("^error: .*not writable %(Operation not permitted%)", refused)
      end
      assert.is_nil(got[6])
      assert(os.execute("chattr -i " .. quote(dir)))
      assert.same({ 1, "yes" }, { go(function() return kv.count(), kv.get("kept") end) })
    end)

    it("starts read-only on a read-only file system (through actor.file), naming it", function()
      go(function() assert.is_true(kv.set("kept", "yes")) end)
      local real = file.lock
      finally(function() file.lock = real end)
      file.lock = function(d, readonly) -- what the system says on a read-only mount
        if readonly then return nil, "cannot open " .. d .. "/LOCK: No such file", 2 end
        return nil, "cannot open " .. d .. "/LOCK: Read-only file system", 30
      end
      local got = { go(function()
        return outcome(kv.get, "kept"), outcome(kv.set, "new", "x"), outcome(kv.info)
      end) }
      assert.equal("yes", got[1])
      assert.matches("^error: .*is not writable %(Read%-only file system%)", got[2])
      assert.matches("read%-only", got[3])
      assert.equal('{"kept":[121,101,115]}', read(dir .. "/data.json"))
    end)

    it("says why on every request when data.json cannot be read", function()
      assert(file.mkdir(dir))
      assert(file.mkdir(dir .. "/data.json")) -- a directory: it cannot be read nor replaced
      local got = { go(function()
        return outcome(kv.get, "a"), outcome(kv.set, "a", "b"), outcome(kv.info)
      end) }
      assert.matches("^error: .*cannot read " .. dir .. "/data.json: Is a directory", got[1])
      assert.matches("^error: .*cannot read " .. dir .. "/data.json: Is a directory", got[2])
      assert.matches("cannot read " .. dir .. "/data.json: Is a directory", got[3])
    end)

    -- ----------------------------------------------------- keys as JSON

    it("keeps data.json valid JSON whatever keys are set: UTF-8 ones round-trip, others are "
      .. "refused with a clear error", function()
      local odd = { "\0", "nul\0inside", "\1\2\31", 'a "quoted" key', "back\\slash", "/a/path/",
        "del\127", "tab\tnew\nline\rreturn", "é", "ключ", "✓", "😀", "\u{10FFFF}",
        "\u{D7FF}\u{E000}\u{FFFF}\u{10000}\u{7FF}\u{800}\u{80}",
        'all "\0\\/é😀 of it', string.rep("ü", 1000) }
      local invalid = { "\255", "tail\128", "\192\175", "\237\160\128", "\226\130",
        "\244\144\128\128", "\xff\xfe\xc3\x28", "\128", "\224\128\128", "\240\128\128\128",
        "\245\128\128\128", "\248\136\128\128\128", "\237\191\191", "ok\0\193\129" }
      go(function()
        for i, k in ipairs(odd) do assert.is_true(kv.set(k, "v" .. i .. "\0\255")) end
        for _, k in ipairs(invalid) do
          -- the store's words ("kv:"), not the writer's: the store refused it
          -- before holding it
          assert.matches("kv: the key .* is not valid UTF%-8, and a JSON key is text %(the log "
            .. "writer takes any bytes%)", error_of(kv.set, k, "x"))
          assert.is_nil(kv.get(k))
        end
        -- the key shown as the writer shows it: quoted, its first 40 bytes,
        -- every byte that is not printable ASCII as \xHH
        local long = 'a"\\' .. string.rep("é", 20) .. "\255"
        assert.matches('kv: the key "a\\x22\\x5c' .. string.rep("\\xc3\\xa9", 18) .. '\\xc3..." is '
          .. "not valid UTF-8", error_of(kv.set, long, "x"), 1, true)
        assert.equal(#odd, kv.count())
        assert.is_false(kv.delete("\255")) -- nothing to delete is no error: false
        assert.is_true(kv.set("after", "2"))
      end)
      local data, n = parse_file(dir .. "/data.json"), 0
      for i, k in ipairs(odd) do assert.equal("v" .. i .. "\0\255", data[k]) end
      for _ in pairs(data) do n = n + 1 end
      assert.equal(#odd + 1, n)
      -- and the writer reads it back as it was
      assert.equal(#odd + 1, go(function()
        for i, k in ipairs(odd) do assert.equal("v" .. i .. "\0\255", kv.get(k)) end
        assert.is_nil(kv.get("\255"))
        return kv.count()
      end))
    end)

    it("says in its load reply that it writes UTF-8 keys only; refuses any other key sent to "
      .. "it directly, asking nobody to take it back", function()
      local got = { go(function()
        assert.is_true(kv.set("a", "1"))
        -- this actor loads last: a take-back, if any, would come to it
        local load = table.pack(actor.call("kv.writer", "load", 0))
        local err = error_of(actor.call, "kv.writer", "kv", "set", "\255", "x")
        local stray = table.pack(actor.receive(0)) -- sent before the answer, if at all
        return load[6], err, stray[1] or "nothing", kv.get("\255"), kv.count()
      end) }
      assert.equal("utf8", got[1])
      assert.matches('kv.writer: the key "\\xff" is not valid UTF-8, and a JSON key is text (the '
        .. "log writer takes any bytes)", got[2], 1, true)
      assert.same({ "nothing", nil, 1 }, { got[3], got[4], got[5] })
      assert.same({ a = "1" }, parse_file(dir .. "/data.json"))
    end)

    -- ---------------------------------------------- stopped mid-batch

    -- Clients set keys of their own while the writer's first write is held
    -- (it waits for the root, inside actor.file.write_atomic), then the
    -- writer is stopped by `stop` (a reset, or its store crashing); its
    -- next write, as it ends, fails with `fail` if given. Returns each
    -- client's {ok, err, now: what the store holds after the restart} and
    -- whether data.json.sync was there then.
    local CLIENTS = 8
    local function stopped_mid_batch(stop, fail)
      local real = file.write_atomic
      finally(function() file.write_atomic = real end)
      local function failing()
        file.write_atomic = real
        return nil, fail
      end
      return go(function()
        local root = actor.self()
        kv.count() -- the pair runs
        file.write_atomic = function(...) -- the next write waits, and never gets its answer
          file.write_atomic = fail and failing or real
          actor.call(root, "stalled")
          return real(...)
        end
        for c = 1, CLIENTS do
          actor.spawn(function()
            local ok, err = pcall(kv.set, "k" .. c, "v" .. c)
            actor.send(root, "done", c, ok, tostring(err))
          end)
        end
        H.expect("stalled", 10000)
        stop()
        local results = {}
        for _ = 1, CLIENTS do
          local c, ok, err = H.expect("done", 10000)
          results[c] = { ok = ok, err = err }
        end
        for c = 1, CLIENTS do results[c].now = kv.get("k" .. c) end
        return results, exists(dir .. "/data.json.sync")
      end, { fsync = "everysec" })
    end

    local stops = {
      ["a reset"] = function() assert.equal("ok", actor.reset("kv")) end,
      ["a crash of its store"] = function() actor.kill(actor.whereis("kv"), "crash test") end,
    }
    for what, stop in pairs(stops) do
      it("answers each change with success if it wrote it, else with an error, when stopped "
        .. "by " .. what, function()
        -- its last write works: everyone in the batch is told so, and it is there
        local results, synced = stopped_mid_batch(stop)
        for c = 1, CLIENTS do
          assert(results[c].ok, "client " .. c .. ": " .. results[c].err)
          assert.equal("v" .. c, results[c].now)
        end
        assert.is_true(synced) -- everysec: fsynced as it ended, and its copy kept
        local data = parse_file(dir .. "/data.json")
        for c = 1, CLIENTS do assert.equal("v" .. c, data["k" .. c]) end

        -- its last write fails: everyone in the batch hears why, and it is not there
        remove_tree(dir)
        results = stopped_mid_batch(stop, "no space left on the test device")
        local failed = {}
        for c = 1, CLIENTS do
          local r = results[c]
          if r.ok then
            assert.equal("v" .. c, r.now)
          else
            failed[#failed + 1] = "k" .. c
            assert.matches("write failed: no space left on the test device", r.err)
            assert.is_nil(r.now) -- and the store does not hold it either
          end
        end
        assert.is_true(#failed >= 1) -- the held batch
        data = exists(dir .. "/data.json") and parse_file(dir .. "/data.json") or {}
        for _, k in ipairs(failed) do assert.is_nil(data[k]) end
      end)
    end

    -- ------------------------------------------------------- the loader

    -- Writes data.json (and, if given, data.json.sync), runs, and returns
    -- the info line and what the store holds.
    local function start_on(text, copy)
      assert(file.mkdir(dir))
      write(dir .. "/data.json", text)
      if copy then write(dir .. "/data.json.sync", copy) end
      return go(function()
        local found = {}
        for _, k in ipairs { "a", "b" } do found[k] = kv.get(k) end
        return kv.info(), found
      end)
    end

    local function aside_holds(info, text)
      local aside = info:match("kept aside as (%S-);")
      assert(aside, info)
      assert.matches("/data%.json%.bad%-%d+$", aside)
      assert.equal(text, read(aside))
    end

    local bad = {
      { "[]", "the top level is an array, not a JSON object" },
      { '"text"', "the top level is a string, not a JSON object" },
      { '{"a":[49]}' .. string.rep("\0", 4096),
        "it ends in 4096 zero bytes after byte 10 (padding, as a crash can leave)" },
      { string.rep("\0", 512), "it is 512 zero bytes" },
      { '{"a":[49]} {"b":[50]}', "it is not valid JSON: it has more after the object, at byte 12" },
      { '{"a":[49]}x', "it is not valid JSON: it has more after the object, at byte 11" },
      { '{"a":[49],"b":[5', "it is not valid JSON: it is cut short" },
      { '{"\xff":[49]}', 'the key "\\xff" is not valid UTF-8' },
    }
    for _, case in ipairs(bad) do
      it("says what is wrong with a data.json: " .. case[2], function()
        local info, found = start_on(case[1])
        assert.matches(dir .. "/data.json cannot be read: " .. case[2], info, 1, true)
        assert.matches("; starting empty", info, 1, true)
        aside_holds(info, case[1])
        assert.same({}, found)
      end)
    end

    it("removes a temporary file left by a crash, and says so", function()
      local info = start_on('{"a":[49]}')
      assert.is_nil(info:find("removed"))
      local found
      write(dir .. "/data.json.tmp", '{"a":[50]') -- a write cut short
      info, found = go(function() return kv.info(), { a = kv.get("a") } end)
      assert.matches("loaded 1 key from " .. dir .. "/data.json; removed data.json.tmp, left "
        .. "over from a crash", info, 1, true)
      assert.same({ a = "1" }, found)
      assert.is_false(exists(dir .. "/data.json.tmp"))
    end)

    it("falls back on the copy it fsynced last when data.json is cut short or zeroed", function()
      local copy = '{"a":[49],"b":[50]}'
      for _, damaged in ipairs { "", '{"a":[49],"b"', string.rep("\0", 19) } do
        remove_tree(dir)
        local info, found = start_on(damaged, copy)
        assert.matches("cannot be read", info, 1, true)
        assert.matches("; loaded 2 keys from " .. dir .. "/data.json.sync, the copy fsynced "
          .. "last (changes made after it are lost)", info, 1, true)
        aside_holds(info, damaged)
        assert.same({ a = "1", b = "2" }, found)
      end
    end)

    -- Found by the power-loss simulator (spec/powerloss/): a start that
    -- fell back on data.json.sync has kept the bad data.json aside, and
    -- the next start, before any write, found no data.json and started
    -- empty: the copy is loaded when data.json is missing too.
    it("loads the copy it fsynced last when data.json is missing, start after start", function()
      local copy = '{"a":[49],"b":[50]}'
      local info, found = start_on('{"a":[49],"b"', copy)
      assert.matches("; loaded 2 keys from " .. dir .. "/data.json.sync", info, 1, true)
      assert.same({ a = "1", b = "2" }, found)
      assert.is_false(exists(dir .. "/data.json")) -- kept aside, nothing written since
      info, found = go(function() return kv.info(), { a = kv.get("a"), b = kv.get("b") } end)
      assert.matches("no " .. dir .. "/data.json; loaded 2 keys from " .. dir
        .. "/data.json.sync, the copy fsynced last", info, 1, true)
      assert.same({ a = "1", b = "2" }, found)
    end)

    it("keeps a copy of the file it fsyncs (everysec), and none it did not", function()
      go(function()
        kv.set("a", "1")
        assert.is_false(exists(dir .. "/data.json.sync")) -- written, not fsynced yet
        local waited = 0 -- the everysec fsync comes within a second
        while actor.call("kv.writer", "stats").fsyncs == 0 and waited < 10000 do
          actor.sleep(50)
          waited = waited + 50
        end
        assert.equal(1, actor.call("kv.writer", "stats").fsyncs)
        assert.equal(read(dir .. "/data.json"), read(dir .. "/data.json.sync"))
        kv.set("b", "2")
      end, { fsync = "everysec" })
      -- ending, it fsyncs what it wrote since, and keeps that as the copy
      assert.equal('{"a":[49],"b":[50]}', read(dir .. "/data.json.sync"))
    end)

    -- Found by the power-loss simulator (spec/powerloss/): the writer
    -- keeps the file data.json was before its last write open as a spare
    -- (data.json.tmp), to empty and write again for the next version. A
    -- spare holding a version on disk (fsynced, or as the start found it)
    -- is dropped instead: rewritten in place without an fsync, a power
    -- loss could leave its exchange done but its blocks part old, part
    -- new, or an old version taken for the new one.
    it("never writes again in place a data.json it fsynced or found", function()
      for _, policy in ipairs { "everysec", "no" } do
        remove_tree(dir)
        local spares = {}
        go(function()
          kv.set("a", "1") -- the first write: the file found (none) is not kept
          spares[1] = exists(dir .. "/data.json.tmp")
          kv.set("b", "2") -- the one before was never fsynced: kept
          spares[2] = exists(dir .. "/data.json.tmp")
          if policy == "everysec" then
            local waited = 0
            while actor.call("kv.writer", "stats").fsyncs == 0 and waited < 10000 do
              actor.sleep(50)
              waited = waited + 50
            end
            assert.equal(1, actor.call("kv.writer", "stats").fsyncs)
            kv.set("c", "3") -- data.json was fsynced: it is not kept
            spares[3] = exists(dir .. "/data.json.tmp")
            kv.set("d", "4")
            spares[4] = exists(dir .. "/data.json.tmp")
          end
        end, { fsync = policy })
        if policy == "everysec" then
          assert.same({ false, true, false, true }, spares)
        else
          assert.same({ false, true }, spares)
        end
        -- a second run: the data.json it finds is on disk, and not kept
        go(function()
          kv.set("e", "5")
          spares[5] = exists(dir .. "/data.json.tmp")
          assert.equal("1", kv.get("a"))
        end, { fsync = policy })
        assert.is_false(spares[5])
      end
    end)

    -- ------------------------------------------------------ expiry

    it("reads expiry times from data.json, leaving out keys whose time has passed, and writes "
      .. "them back", function()
      local later = actor.time() + 100000
      assert(file.mkdir(dir))
      write(dir .. "/data.json", ('{"a":[49],"t":{"value":[50],"expires":%d},'
        .. '"old":{"value":[51],"expires":1}}'):format(later))
      local got = { go(function()
        local r = { kv.info(), kv.count(), kv.get("t"), kv.get("old"), kv.pttl("t"),
          kv.pttl("a") }
        kv.set("b", "4") -- a write: what has expired is not written again
        kv.set("soon", "5", { px = 50 })
        actor.sleep(100) -- past soon's time: the next write leaves it out
        kv.set("c", "6")
        return table.unpack(r, 1, 6)
      end) }
      assert.matches("loaded 2 keys", got[1], 1, true)
      assert.same({ 2, "2", nil }, { got[2], got[3], got[4] })
      assert.is_true(got[5] > 90000 and got[5] <= 100000, tostring(got[5]))
      assert.equal(-1, got[6])
      local text = read(dir .. "/data.json")
      assert.is_nil(text:find('"old"', 1, true))
      assert.is_nil(text:find('"soon"', 1, true))
      assert.truthy(text:find('"c":[54]', 1, true))
      assert.truthy(text:find(('"t":{"value":[50],"expires":%d}'):format(later), 1, true))
      assert.truthy(text:find('"a":[49]', 1, true))
    end)

    it("keeps a data.json aside whose expiring entry is not {\"value\":[...],\"expires\":ms}",
      function()
      for _, text in ipairs { '{"a":{"value":[49],"expires":-5}}', '{"a":{"value":[49]}}',
        '{"a":{"value":[49],"expires":1.5}}', '{"a":{"value":[49],"expires":9,"x":1}}',
        '{"a":{"value":"1","expires":9}}' } do
        remove_tree(dir)
        local info, found = start_on(text)
        assert.matches("is not an array", info, 1, true)
        aside_holds(info, text)
        assert.same({}, found)
      end
    end)

    it("takes the store's changes with their answers: set, delete, expire, mset, flush",
      function()
      local got = { go(function()
        kv.count() -- the pair runs
        local w = "kv.writer"
        local later = actor.time() + 100000
        local r = table.pack(
          actor.call(w, "kv", "set", "x", "1", 0, "answer"),
          actor.call(w, "kv", "set", "y", "2", later),
          actor.call(w, "kv", "delete", "x", nil),
          actor.call(w, "kv", "mset", "m", "3", "n", "4"),
          actor.call(w, "kv", "expire", "m", later, 7),
          actor.call(w, "kv", "expire", "y", 0))
        local err = error_of(actor.call, w, "kv", "mset", "p", "5", "q")
        local err2 = error_of(actor.call, w, "kv", "set", "p", "5", -1)
        local err3 = error_of(actor.call, w, "kv", "rename", "p")
        return r, err, err2, err3, read(dir .. "/data.json"), later
      end) }
      local r, later = got[1], got[6]
      assert.same({ "answer", true, nil, true, 7, true, n = 6 }, r)
      assert.matches("in pairs", got[2], 1, true)
      assert.matches("expiry time", got[3], 1, true)
      assert.matches("not rename", got[4], 1, true)
      local text = got[5]
      assert.is_nil(text:find('"x"', 1, true))
      assert.truthy(text:find('"y":[50]', 1, true))
      assert.truthy(text:find(('"m":{"value":[51],"expires":%d}'):format(later), 1, true))
      assert.truthy(text:find('"n":[52]', 1, true))
      assert.is_nil(text:find('"p"', 1, true))
      go(function()
        kv.count() -- the pair runs
        assert.is_true(actor.call("kv.writer", "kv", "flush"))
        assert.is_nil(actor.call("kv.writer", "kv", "flush", nil))
      end)
      assert.equal("{}", read(dir .. "/data.json"))
    end)
  end)
end

-- --------------------------------------------- the Lua store, reset

describe("the Lua store", function()
  it("does not fail the request it is handling when it is reset on purpose", function()
    local dir = fresh_dir()
    finally(function() remove_tree(dir) end)
    -- a small slice: the store is preempted in the middle of requests often
    local settings = { store = "lua", writer = "log", data_dir = dir, fsync = "no", slice = 40 }
    local CLIENTS_N, ROUNDS, RESETS = 8, 150, 30
    local failures = {}
    H.configured(settings, function()
      H.run(function()
        local root = actor.self()
        kv.count()
        for c = 1, CLIENTS_N do
          actor.spawn(function()
            local errors = {}
            for j = 1, ROUNDS do
              local key = "c" .. c .. ":" .. j
              local ok, err = pcall(kv.set, key, "v")
              if not ok then errors[#errors + 1] = "set: " .. tostring(err) end
              ok, err = pcall(kv.get, key)
              if not ok or err ~= "v" then errors[#errors + 1] = "get: " .. tostring(err) end
              if j % 5 == 0 then actor.send(root, "progress") end
            end
            actor.send(root, "done", errors)
          end)
        end
        local resets, done = 0, 0
        while done < CLIENTS_N do
          local name, errors = actor.receive(10000)
          assert(name, "a client hangs")
          if name == "done" then
            done = done + 1
            for _, e in ipairs(errors) do failures[#failures + 1] = e end
          elseif resets < RESETS then -- a reset after each bit of progress
            resets = resets + 1
            assert.equal("ok", actor.reset("kv"))
          end
        end
        assert.is_true(resets >= RESETS // 2)
      end)
    end)
    assert.same({}, failures)
  end)
end)

-- ------------------------------------------- errors while an actor ends

describe("an actor ending", function()
  it("logs an error raised by its to-be-closed variables, with a traceback", function()
    local script = os.tmpname()
    finally(function() os.remove(script) end)
    write(script, [[
local actor = require "actor"
local function deep_in_close() error("boom while closing") end
local root = actor.self()
local function guarded(how)
  local guard <close> = setmetatable({}, { __close = function() deep_in_close() end })
  actor.send(root, "ready")
  if how == "wait" then actor.receive() else error("the body failed") end
end
for _, how in ipairs { "wait", "fail" } do
  local pid = actor.spawn(guarded, how)
  actor.monitor(pid)
  assert(actor.receive(10000) == "ready")
  if how == "wait" then actor.kill(pid) end
  assert(actor.receive(10000) == "down")
end
print("RESULT done")
]])
    local p = assert(io.popen(BIN .. " " .. quote(script) .. " 2>&1"))
    local out = p:read("a")
    p:close()
    assert.matches("RESULT done", out, 1, true)
    local _, logged = out:gsub("failed while ending, in a to%-be%-closed variable: [^\n]*"
      .. "boom while closing\nstack traceback:\n[^\n]*in [%a ]*'deep_in_close'", "")
    assert.equal(2, logged, out) -- killed while waiting, and after its body failed
    assert.matches("the body failed", out, 1, true) -- that error is said too
  end)
end)
