-- How the Lua store (actor.store) loads, against a stand-in writer that
-- decides how long the load takes: it answers "load" with "still reading"
-- (no entries, the same cursor) until its time is up, then with the data,
-- as the native writer does while it reads a big log. Requests sent
-- meanwhile wait and are served when the load is short; past load_wait_ms
-- they are answered with a clear "still loading" error instead of timing
-- out, and actor.kv (through a router stand-in) asks again until the load
-- ends, within call_timeout; a writer that has no data to give at all (its
-- directory is in use) has its reason given to every request. Its data
-- lives in segments, so that no single table's growth stalls it past the
-- supervisor's cutoff.
-- (The native store's load is checked in spec/c/test_store.c, through a
-- slow file seam.)
local actor = require "actor"
local client = require "actor.kv" -- as scripts reach the store
local H = require "support.helpers"

local store_fn = require "actor.store"

-- A writer stand-in, registered as kv.writer: loads take `ms` ms, then
-- give `data` (key -> value) in one batch; `unavailable` (optional) is
-- the fifth value of that last answer. Changes are taken and answered
-- true, whatever their message.
local function stand_in(ms, data, unavailable)
  local began
  actor.register("kv.writer")
  actor.serve{
    load = function(cursor)
      began = began or actor.now()
      if actor.now() - began < ms then
        actor.sleep(50)
        return {}, cursor, "kv.log: still reading", nil, nil
      end
      local entries = {}
      for k, v in pairs(data) do
        entries[#entries + 1] = k
        entries[#entries + 1] = v
      end
      return entries, nil, "loaded by the stand-in", unavailable, unavailable
    end,
    default = function() return true end, -- a change, as kv(...) or set(...) ...
  }
end

-- Starts the stand-in then the Lua store (options as its argument).
local function start(ms, data, options, unavailable)
  actor.spawn(stand_in, ms, data, unavailable)
  actor.sleep(0) -- let it register
  assert(actor.whereis("kv.writer"), "the stand-in did not register")
  return actor.spawn(store_fn, options)
end

-- A router stand-in, registered as "router" (which actor.kv calls) in
-- place of the host's own: it passes every message on to the store,
-- unchanged.
local function router(store)
  actor.unregister("router")
  actor.register("router")
  while true do
    actor.receive()
    actor.forward(store)
  end
end

-- Puts the router stand-in in front of store.
local function route_to(store)
  local pid = actor.spawn(router, store)
  actor.sleep(0) -- let it register
  assert(actor.whereis("router") == pid, "the router stand-in did not register")
end

-- The error a call raises (nil when it returns).
local function call_error(ms, store, ...)
  local ok, err = pcall(actor.call_timeout, ms, store, "kv", ...)
  if ok then return nil end
  return tostring(err)
end

describe("the Lua store's load", function()
  it("makes requests sent during a short load wait, and serves them in order", function()
    local got = { H.run(function()
      local store = start(300, { a = "1" })
      local t = actor.now()
      actor.send(store, "kv", "set", "b", "x") -- queued while it loads
      local b = actor.call(store, "kv", "get", "b") -- after the set: in order
      return actor.now() - t, b, actor.call(store, "kv", "get", "a"),
        actor.call(store, "kv", "count")
    end) }
    assert.is_true(got[1] >= 300, "served after " .. got[1] .. " ms: before the load ended?")
    assert.same({ "x", "1", 2 }, { got[2], got[3], got[4] })
  end)

  it("answers requests with 'still loading' once a load takes long, never a timeout", function()
    local first, during, after, took = H.run(function()
      local store = start(3000, { a = "1" }, { load_wait_ms = 300 })
      local t = actor.now()
      local first = call_error(2500, store, "get", "a") -- sent at once: it waited
      local took = actor.now() - t
      local during = call_error(2500, store, "set", "a", "2")
      local after
      repeat -- until loaded
        actor.sleep(100)
        local ok, v = pcall(actor.call_timeout, 1000, store, "kv", "get", "a")
        if ok then after = v end
      until after ~= nil or actor.now() - t > 20000
      return first, during, after, took
    end)
    assert.matches("kv: the store is still loading (kv.writer is reading kv.log: still "
      .. "reading); try again", first, 1, true)
    assert.is_true(took >= 300 and took < 2500, "answered after " .. took .. " ms")
    assert.matches("still loading", during, 1, true)
    assert.equal("1", after) -- the set during the load changed nothing
  end)

  it("has actor.kv ask again while it is still loading, within the call's timeout", function()
    local got
    H.configured({ call_timeout = 8000 }, function() got = { H.run(function()
      local store = start(2000, { a = "1" }, { load_wait_ms = 300 })
      route_to(store)
      local t = actor.now()
      local ok, v = pcall(client.get, "a") -- answered "still loading" from 300 ms on
      return ok, v, actor.now() - t
    end) } end)
    assert.same({ true, "1" }, { got[1], got[2] })
    assert.is_true(got[3] >= 2000 and got[3] < 8000, "served after " .. got[3] .. " ms")
  end)

  it("has actor.kv ask again while loading for every request, all of the answer kept",
    function()
    local got
    H.configured({ call_timeout = 8000 }, function() got = { H.run(function()
      local store = start(1000, { a = "1", b = "2" }, { load_wait_ms = 200 })
      route_to(store)
      local root, asks = actor.self(), {
        mget = function() return { client.mget("a", "x", "b") } end,
        scan = function()
          local next, keys = client.scan(0, nil, 100)
          table.sort(keys)
          return { next, table.concat(keys, " ") }
        end,
        exists = function() return { client.exists("a"), client.exists("x") } end,
        ttl = function() return { client.ttl("a"), client.pttl("x") } end,
        strlen = function() return { client.strlen("b") } end,
        keys = function() return { #client.keys("*") } end,
        stats = function() return { client.stats().keys } end,
      }
      for name, ask in pairs(asks) do
        actor.spawn(function() actor.send(root, "got", name, ask()) end)
      end
      local answers = {}
      for _ in pairs(asks) do
        local _, name, answer = actor.receive(7000)
        answers[name or "none"] = answer
      end
      return answers
    end) } end)
    assert.same({
      mget = { "1", nil, "2" }, scan = { 0, "a b" }, exists = { true, false },
      ttl = { -1, -2 }, strlen = { 1 }, keys = { 2 }, stats = { 2 },
    }, got[1])
  end)

  it("has actor.kv give the 'still loading' error, not a timeout, if the load outlasts the "
    .. "call's timeout", function()
    local got
    H.configured({ call_timeout = 1500 }, function() got = { H.run(function()
      local store = start(60000, { a = "1" }, { load_wait_ms = 300 })
      route_to(store)
      local t = actor.now()
      local ok, err = pcall(client.set, "a", "2")
      return ok, tostring(err), actor.now() - t
    end) } end)
    assert.is_false(got[1])
    assert.matches("kv: the store is still loading (kv.writer is reading kv.log: still reading); "
      .. "try again", got[2], 1, true)
    -- asked again until too little of the 1500 ms was left for another try
    assert.is_true(got[3] >= 900 and got[3] < 3000, "failed after " .. got[3] .. " ms")
  end)

  it("keeps its data in segments (so none grows past what a rehash may cost), finding all",
    function()
      local got = { H.run(function()
        local data = {}
        for i = 1, 10 do data["k" .. i] = "v" .. i end
        local store = start(0, data, { segment_keys = 4 }) -- 3 segments
        local function kv(...) return actor.call(store, "kv", ...) end
        local loaded = kv("count")
        kv("set", "k1", "new1") -- an update, in whichever segment holds it
        for i = 2, 9 do kv("delete", "k" .. i) end -- a segment or more empties
        kv("delete", "never there")
        for i = 11, 20 do kv("set", "k" .. i, "v" .. i) end
        kv("set", "k12", "new12")
        local all = {}
        for i = 1, 20 do all[i] = kv("get", "k" .. i) or false end
        return loaded, kv("count"), all
      end) }
      local want = { "new1", false, false, false, false, false, false, false, false, "v10" }
      for i = 11, 20 do want[i] = "v" .. i end
      want[12] = "new12"
      assert.same({ 10, 12, want }, got)
    end)

  it("keeps the scan order, expiry times and counts across its segments", function()
    local got = { H.run(function()
      local data = {}
      for i = 1, 10 do data["k" .. i] = "v" .. i end
      local store = start(0, data, { segment_keys = 4 }) -- 3 segments
      local function kv(...) return actor.call(store, "kv", ...) end
      kv("set", "e1", "x", { px = 100000 })
      for i = 2, 9 do kv("delete", "k" .. i) end -- a segment or more empties
      kv("set", "e2", "y", { px = 1 })
      for i = 11, 20 do kv("set", "k" .. i, "v" .. i) end
      actor.sleep(20) -- past e2's time
      -- a scan of one key a call, a key added and one of the old ones
      -- removed between calls: each old one comes once, or not at all
      -- if it was removed before the scan got to it
      local seen, cursor, n = {}, 0, 0
      repeat
        local keys
        cursor, keys = kv("scan", cursor, nil, 1)
        for _, k in ipairs(keys) do seen[k] = (seen[k] or 0) + 1 end
        n = n + 1
        kv("set", "new" .. n, "x")
        if n <= 5 then kv("delete", "k" .. (21 - n)) end -- k20 .. k16, the last added
      until cursor == 0 or n > 100
      local keys = kv("keys", "k1*")
      table.sort(keys)
      return seen, kv("count"), kv("ttl", "e1"), kv("get", "e2"), table.concat(keys, " "),
        kv("stats")
    end) }
    local seen, count, ttl, e2, keys, stats = table.unpack(got, 1, 6)
    for _, k in ipairs { "k1", "k10", "e1", "k11", "k12", "k13", "k14", "k15" } do
      assert.equal(1, seen[k], k)
    end
    for k, n in pairs(seen) do assert(n == 1, k .. " came " .. n .. " times") end
    for i = 16, 20 do assert.is_nil(seen["k" .. i]) end -- removed before the scan got there
    assert.is_nil(seen.e2)
    assert.is_nil(e2)
    assert.is_true(ttl > 90000 and ttl <= 100000)
    assert.equal("k1 k10 k11 k12 k13 k14 k15", keys)
    assert.equal(count, stats.keys)
    assert.equal(1, stats.expiring)
  end)

  it("answers every request with the writer's reason when it has no data to give", function()
    local why = "data directory /somewhere is in use (pid 1234)"
    local errs = { H.run(function()
      local store = start(0, {}, nil, why)
      return call_error(1000, store, "get", "a"), call_error(1000, store, "set", "a", "b"),
        call_error(1000, store, "delete", "a"), call_error(1000, store, "count"),
        call_error(1000, store, "info")
    end) }
    assert.equal(5, #errs)
    for _, e in ipairs(errs) do assert.matches(why, e, 1, true) end
  end)
end)
