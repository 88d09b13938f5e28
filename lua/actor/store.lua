-- actor.store: the store actor written in Lua, interchangeable with the
-- native one (services/store/store.c): the same messages, described in
-- include/troupe_services.h. It keeps the data in Lua tables, loads it
-- from the writer ("kv.writer") in batches before serving, answers reads
-- itself and passes each change on to the writer (actor.forward, as the
-- message the writer takes: op(key, ...), e.g. set(key, value, at,
-- answer)), which answers the caller once it is written.
-- A request that changes nothing is answered here. It refuses a key its
-- writer cannot write (its load said "utf8", as the JSON writer does, and
-- the key is not valid UTF-8) before applying it: it never holds what was
-- not written.
--
-- Expiry times are absolute (actor.time(): ms since the Unix epoch). A key
-- past its time is gone for every request: removed when read, and by a
-- sweep every SWEEP_MS that takes at most SWEEP_MAX keys off a heap of
-- expiry times; count and stats take off every expired key first, so
-- their numbers are exact. The writer is not told (it drops what has
-- expired when it loads or writes).
--
-- Scan: each key gets a number when it is added, one more than the last;
-- the numbers, in chunks of CHUNK, keep the keys in the order they came.
-- A cursor is the number to look at next, so a key there for the whole
-- scan has one number all along and is returned once, whatever is added
-- (at higher numbers) or removed meanwhile. (Lua's next() would not do:
-- its order changes when a table grows.)
--
-- While it loads, requests wait in the mailbox; once the load has taken
-- load_wait_ms (2000 by default; the store's one option, for tests), each
-- is answered between batches with an error saying the store is still
-- loading, rather than left to time out. A writer that has no data to give
-- (its directory is in use by another writer, ...) says why, and every
-- request is answered with that.
local actor = require "actor"

local MAX_KEY, MAX_VALUE = 65535, 16 * 1024 * 1024
local LOAD_WAIT_MS, REPORT_MS = 2000, 1000
local SEGMENT = 1 << 19
local CHUNK = 1024 -- key numbers per chunk of the scan order
local SWEEP_MS, SWEEP_MAX = 100, 1000
local SCAN_COUNT = 10
-- what a reply may hold: the core's message limit (64 MiB), less room for
-- the encoding of each item (a few bytes) and the rest of the message
local REPLY_MAX = 63 * 1024 * 1024
local BEAT = 65536 -- keys of long work (keys, a full sweep) between heartbeats
local NOT_INTEGER = "kv: the value is not an integer or out of range"
local OVERFLOW = "kv: increment or decrement would overflow"

local time, forward, calling = actor.time, actor.forward, actor.calling
local type, select, tointeger, mtype = type, select, math.tointeger, math.type
local remove_at = table.remove

-- A bad request gets an error reply, and a send (nobody to answer) nothing.
local function refuse(why)
  if calling() then actor.reply_error(why) end
end

local function bad_key(key)
  if type(key) ~= "string" then return "a key is a string" end
  if #key == 0 or #key > MAX_KEY then
    return "a key has 1 to " .. MAX_KEY .. " bytes"
  end
end

-- The text a value is stored as: a string as it is, an integer in
-- decimal, a float as the shortest %.17g-style text that reads back the
-- same; or nil and why it cannot be a value.
local function text_of(value)
  local t = type(value)
  if t == "string" then
    if #value > MAX_VALUE then return nil, "a value has at most " .. MAX_VALUE .. " bytes" end
    return value
  elseif t == "number" then
    if mtype(value) == "integer" then return ("%d"):format(value) end
    if value ~= value or value == math.huge or value == -math.huge then
      return nil, "a value is a string or a finite number"
    end
    for digits = 15, 17 do
      local s = ("%." .. digits .. "g"):format(value)
      if tonumber(s) == value then return s end
    end
  end
  return nil, "a value is a string or a number"
end

-- The integer a value's text holds (a 64-bit decimal, as Redis reads one:
-- no sign but '-', no spaces, no leading zeros), or nil: the text must be
-- the integer's own, which also turns away what tonumber would round.
local function integer_of(text)
  if #text > 20 then return nil end
  local n = tointeger(tonumber(text))
  if n and ("%d"):format(n) == text then return n end
end

-- Why a writer that takes UTF-8 keys only cannot write key, or nil; the
-- key shown as the JSON writer shows it (quoted, cut short, every byte
-- that is not printable ASCII as \xHH).
local function not_utf8(key)
  if utf8.len(key) then return end
  local cut = #key > 40 and key:sub(1, 40) or key
  cut = cut:gsub('[%c"\\\128-\255]', function(c) return ("\\x%02x"):format(c:byte()) end)
  return 'kv: the key "' .. cut .. (#key > 40 and '..."' or '"')
    .. " is not valid UTF-8, and a JSON key is text (the log writer takes any bytes)"
end

-- A glob pattern as Redis's KEYS takes it (* ? [abc] [^a-c] \x) as an
-- anchored Lua pattern, or false for one no key matches (an empty set).
-- Every character of a set is listed, escaped, so that no character the
-- glob gives is special to Lua.
local function esc(c) return c:find("^%w") and c or "%" .. c end
local function glob(p)
  local out, i, n = { "^" }, 1, #p
  while i <= n do
    local c = p:sub(i, i)
    if c == "*" then
      while p:sub(i + 1, i + 1) == "*" do i = i + 1 end
      out[#out + 1] = ".-"
    elseif c == "?" then
      out[#out + 1] = "."
    elseif c == "\\" and i < n then
      i = i + 1
      out[#out + 1] = esc(p:sub(i, i))
    elseif c == "[" then
      local set, negate = {}, false
      i = i + 1
      if p:sub(i, i) == "^" then negate, i = true, i + 1 end
      while i <= n do
        local d = p:sub(i, i)
        if d == "]" then break end
        if d == "\\" and i < n then
          i = i + 1
          set[#set + 1] = esc(p:sub(i, i))
        elseif p:sub(i + 1, i + 1) == "-" and i + 2 <= n then
          local lo, hi = d:byte(), p:byte(i + 2)
          if lo > hi then lo, hi = hi, lo end
          for b = lo, hi do set[#set + 1] = esc(string.char(b)) end
          i = i + 2
        else
          set[#set + 1] = esc(d)
        end
        i = i + 1
      end
      if #set == 0 then
        if not negate then return false end
        out[#out + 1] = "."
      else
        out[#out + 1] = "[" .. (negate and "^" or "") .. table.concat(set) .. "]"
      end
    else
      out[#out + 1] = esc(c)
    end
    i = i + 1
  end
  out[#out + 1] = "$"
  return table.concat(out)
end

-- set's options: name -> the type it takes
local SET_OPTS = { px = "number", ex = "number", nx = "boolean", xx = "boolean",
  keepttl = "boolean", get = "boolean" }

-- The ms a set's options give the key to live (0: none), and its flags;
-- or nil and why they are bad.
local function set_opts(o)
  if o == nil then return 0 end
  if type(o) ~= "table" then return nil, "kv: set's options are a map" end
  for k, v in pairs(o) do
    local want = SET_OPTS[k]
    if not want then
      return nil, "kv: set's options are px, ex, nx, xx, keepttl and get (not '"
        .. tostring(k) .. "')"
    end
    if type(v) ~= want then
      return nil, "kv: set option " .. k .. " is a " .. want .. ", not " .. type(v)
    end
  end
  if o.px and o.ex then return nil, "kv: px and ex are a time > 0, and only one of them" end
  if o.nx and o.xx then return nil, "kv: set takes nx or xx, not both" end
  local ms = o.px or (o.ex and o.ex * 1000)
  if ms and (ms ~= ms or ms < 1 or ms >= 2 ^ 53) then
    return nil, "kv: px and ex are a time > 0, and only one of them"
  end
  if ms and o.keepttl then return nil, "kv: set takes keepttl or an expiry, not both" end
  return ms and math.floor(ms) or 0, o.nx, o.xx, o.keepttl, o.get
end

return function(options)
  local load_wait = options and options.load_wait_ms or LOAD_WAIT_MS
  local cap = options and options.segment_keys or SEGMENT
  local writer = actor.whereis("kv.writer") or error("no kv.writer is running")

  -- The data, in segments: tables of at most `cap` keys, new keys going
  -- into the newest. One Lua table grows by rehashing every key it holds
  -- at once, which for two million keys takes longer than the
  -- supervisor's cutoff (500 ms): the store would be taken for stuck and
  -- restarted, and again as it reloaded, for ever. A segment grows at the
  -- cost of `cap` keys at most (about 0.1 s); a lookup costs one probe per
  -- segment (one up to half a million keys). Segment i holds vals[i]
  -- (key -> value text), nums[i] (key -> its number) and exps[i] (key ->
  -- when it expires, for those that do).
  local vals, nums, exps, live
  local count, nexp, bytes
  -- the scan order: chunks[cid][number % CHUNK + 1] = key (false once it
  -- is gone: an array, cheaper than a hash), for cid = number // CHUNK;
  -- clive[cid] its keys, cids the chunks that hold any, in order
  local nextnum, chunks, clive, cids
  -- expiry times, a binary min-heap: hat[i] the time, hkey[i] the key; an
  -- entry whose key no longer expires then is stale, dropped when it
  -- comes up (hstale about how many there are)
  local hat, hkey, hn, hstale
  local function reset()
    vals, nums, exps, live = { {} }, { {} }, { {} }, { 0 }
    count, nexp, bytes = 0, 0, 0
    nextnum, chunks, clive, cids = 1, {}, {}, {}
    hat, hkey, hn, hstale = {}, {}, 0, 0
  end
  reset()

  local function beat(n)
    if n % BEAT == 0 then actor.heartbeat() end
  end

  -- ------------------------------------------------------- expiry heap

  local sweeping = false
  local function push(at, key)
    local i = hn + 1
    hn = i
    while i > 1 do
      local up = i // 2
      if hat[up] <= at then break end
      hat[i], hkey[i] = hat[up], hkey[up]
      i = up
    end
    hat[i], hkey[i] = at, key
    if not sweeping then
      sweeping = true
      actor.after(SWEEP_MS, "sweep")
    end
  end

  local function pop()
    local at, key = hat[1], hkey[1]
    local lat, lkey = hat[hn], hkey[hn]
    hat[hn], hkey[hn] = nil, nil
    hn = hn - 1
    local i = 1
    while true do
      local c = 2 * i
      if c > hn then break end
      if c < hn and hat[c + 1] < hat[c] then c = c + 1 end
      if lat <= hat[c] then break end
      hat[i], hkey[i] = hat[c], hkey[c]
      i = c
    end
    if hn > 0 then hat[i], hkey[i] = lat, lkey end
    return at, key
  end

  -- Too many stale entries: the heap is made again of the live ones.
  local function rebuild()
    local at, key = {}, {}
    local n = 0
    for s = 1, #exps do
      for k, t in pairs(exps[s]) do
        n = n + 1
        at[n], key[n] = t, k
        beat(n)
      end
    end
    hat, hkey, hn, hstale = {}, {}, 0, 0
    for j = 1, n do
      push(at[j], key[j])
      beat(j)
    end
  end

  -- --------------------------------------------------------- the data

  local function find(key)
    for i = #vals, 1, -1 do
      local v = vals[i][key]
      if v ~= nil then return i, v end
    end
  end

  local function unorder(num)
    local cid = num // CHUNK
    chunks[cid][num % CHUNK + 1] = false
    local left = clive[cid] - 1
    if left > 0 then
      clive[cid] = left
      return
    end
    chunks[cid], clive[cid] = nil, nil
    local lo, hi = 1, #cids -- cids is sorted: find cid, take it out
    while lo < hi do
      local mid = (lo + hi) // 2
      if cids[mid] < cid then lo = mid + 1 else hi = mid end
    end
    remove_at(cids, lo)
  end

  -- Removes key, in segment i.
  local function remove(i, key)
    local seg = vals[i]
    bytes = bytes - #key - #seg[key]
    seg[key] = nil
    unorder(nums[i][key])
    nums[i][key] = nil
    if exps[i][key] then
      exps[i][key] = nil
      nexp, hstale = nexp - 1, hstale + 1
    end
    count = count - 1
    live[i] = live[i] - 1
    if live[i] == 0 and #vals > 1 then -- an empty segment costs lookups
      remove_at(vals, i)
      remove_at(nums, i)
      remove_at(exps, i)
      remove_at(live, i)
    end
  end

  -- The segment and value of key, if it is there and has not expired (one
  -- that has is removed).
  local function lookup(key)
    for i = #vals, 1, -1 do
      local v = vals[i][key]
      if v ~= nil then
        if nexp > 0 then
          local at = exps[i][key]
          if at and at <= time() then return remove(i, key) end
        end
        return i, v
      end
    end
  end

  -- Whether key, in segment i, has not expired (scan's look: nothing removed).
  local function fresh(i, key, now)
    local at = nexp > 0 and exps[i][key]
    return not at or at > now
  end

  -- Sets when key, in segment i, expires: at ms since the epoch, 0 never.
  local function expire_at(i, key, at)
    local e = exps[i]
    local old = e[key]
    if old == at or (not old and at == 0) then return end
    if old then hstale = hstale + 1 else nexp = nexp + 1 end
    if at == 0 then
      e[key], nexp = nil, nexp - 1
    else
      e[key] = at
      push(at, key)
    end
  end

  -- Adds key, which is not there (a load gives each key once).
  local function add(key, value, at)
    local i = #vals
    if live[i] >= cap then
      i = i + 1
      vals[i], nums[i], exps[i], live[i] = {}, {}, {}, 0
    end
    vals[i][key] = value
    live[i], count, bytes = live[i] + 1, count + 1, bytes + #key + #value
    local num = nextnum
    nextnum = num + 1
    nums[i][key] = num
    local cid = num // CHUNK
    local c = chunks[cid]
    if c then
      clive[cid] = clive[cid] + 1
    else
      c = {}
      chunks[cid], clive[cid] = c, 1
      cids[#cids + 1] = cid
    end
    c[num % CHUNK + 1] = key
    if at and at > 0 then
      exps[i][key], nexp = at, nexp + 1
      push(at, key)
    end
  end

  -- add for each pair of a load's entries (none expires), with what add
  -- looks up once per key hoisted out of the loop: a big load is mostly this.
  local function load_batch(entries, n)
    local i = 1
    while i <= n do
      local s = #vals
      if live[s] >= cap then
        s = s + 1
        vals[s], nums[s], exps[s], live[s] = {}, {}, {}, 0
      end
      local seg, segnums = vals[s], nums[s]
      -- as many keys as fit in the segment and in the current chunk
      local num = nextnum
      local cid = num // CHUNK
      local c = chunks[cid]
      if not c then
        c = {}
        chunks[cid], clive[cid] = c, 0
        cids[#cids + 1] = cid
      end
      local room = math.min(cap - live[s], (cid + 1) * CHUNK - num, (n - i + 1) // 2)
      local added = 0
      local slot = num % CHUNK
      for j = i, i + 2 * room - 1, 2 do
        local key, value = entries[j], entries[j + 1]
        slot = slot + 1
        seg[key], segnums[key], c[slot] = value, num, key
        num, added = num + 1, added + #key + #value
      end
      nextnum, bytes = num, bytes + added
      live[s], clive[cid], count = live[s] + room, clive[cid] + room, count + room
      i = i + 2 * room
    end
  end

  -- Sets key (in segment i, or nil when it is not there) to value; its
  -- expiry to at, unless keep.
  local function put(i, key, value, at, keep)
    if not i then return add(key, value, at) end
    local seg = vals[i]
    bytes = bytes + #value - #seg[key]
    seg[key] = value
    if not keep then expire_at(i, key, at) end
  end

  -- Removes what has expired from the heap's top: at most `limit` entries
  -- (none: all of them). True when more are left.
  local function sweep(limit)
    local now, done = time(), 0
    while hn > 0 and hat[1] <= now do
      if limit and done >= limit then return true end
      local at, key = pop()
      local i = find(key)
      if i and exps[i][key] == at then
        remove(i, key)
        hstale = hstale - 1 -- remove counted this entry as stale
      elseif hstale > 0 then
        hstale = hstale - 1
      end
      done = done + 1
      if not limit then beat(done) end
    end
    if hstale > 1024 and hstale > hn // 2 then rebuild() end
  end

  -- ----------------------------------------------------------- loading

  local cursor, info, refused, unavailable, keys = 0
  local began = actor.now()
  local reported, impatient, progress = began, false, nil

  local function so_far()
    return count > 0 and count .. " keys so far"
      or "kv.writer is reading " .. (progress or "its files")
  end

  -- Past load_wait, what waits in the mailbox is answered: still loading.
  local function answer_waiting()
    local why = so_far()
    while true do
      local m = table.pack(actor.receive(0))
      if m.n == 0 then return end
      if m[1] == "failed" and actor.sender() == writer then
        refused = m[2]
      elseif m[1] == "sweep" and actor.sender() == actor.self() then
        actor.after(SWEEP_MS, "sweep") -- the sweep waits for the load
      elseif calling() then
        actor.reply_error("kv: the store is still loading (" .. why .. "); try again")
      end
    end
  end

  repeat -- requests wait in the mailbox meanwhile: call waits for its answer
    local entries, nxt, text, why, none, rule, expiries =
      actor.call(writer, "load", cursor)
    local n = #entries
    if expiries then
      for i = 1, n, 2 do add(entries[i], entries[i + 1], expiries[(i + 1) // 2]) end
    else
      load_batch(entries, n)
    end
    cursor, info, refused, unavailable, keys = nxt, text, why, none, rule
    if cursor ~= nil then
      local now = actor.now()
      if n == 0 then progress = text end -- the writer is still reading
      if not impatient and now - began >= load_wait then
        impatient = true
        actor.log("warn", "kv: loading is taking long (" .. so_far() .. "): "
          .. "requests are answered with an error until it ends")
      elseif n > 0 and now - reported >= REPORT_MS then
        actor.log("info", "kv: loading: " .. count .. " keys so far")
        reported = now
      end
      if impatient then answer_waiting() end
    end
  until cursor == nil
  if actor.now() - began >= REPORT_MS then
    actor.log("info", ("kv: loaded %d keys in %.1f s"):format(count,
      (actor.now() - began) / 1000))
  end

  -- ---------------------------------------------------------- requests

  -- Passes the change being handled on to the writer, which answers the
  -- caller: unchanged (a plain set or delete, which every writer takes as
  -- kv(...)), or as the writer's own message given, op(key, ...) --
  -- set(key, value, at, answer) to kv.writer; false when the writer
  -- cannot take it (gone: said here, as the native store says it; full:
  -- the core tells the caller). Only what it took is applied.
  local function pass_on(...)
    if not actor.alive(writer) then
      refuse("kv: the writer is not running; nothing was changed")
      return false
    end
    return forward(writer, ...) == true
  end

  -- Why a change cannot be made, or nil.
  local function cannot_write()
    if refused then return "the store cannot write: " .. refused end
  end

  -- Why key cannot be given a value, or nil.
  local function bad_new_key(key)
    if type(key) ~= "string" or #key == 0 or #key > MAX_KEY then return bad_key(key) end
    if keys == "utf8" and not utf8.len(key) then return not_utf8(key) end
    if refused then return cannot_write() end
  end

  -- Why the keys from argument `first` on are bad (at least one needed).
  local function bad_keys(first, ...)
    local n = select("#", ...)
    if n < first then return "give at least one key" end
    local given = { ... } -- indexed: select(j, ...) each time is quadratic
    for j = first, n do
      local bad = bad_key(given[j])
      if bad then return bad end
    end
  end

  local ops = {}
  function ops.get(key)
    local bad = bad_key(key)
    if bad then return refuse(bad) end
    local _, v = lookup(key)
    return v
  end

  function ops.set(key, value, opts, ...)
    local bad = bad_new_key(key)
    if bad then return refuse(bad) end
    local text = value
    if type(value) ~= "string" or #value > MAX_VALUE then
      local why
      text, why = text_of(value)
      if not text then return refuse(why) end
    end
    if opts == nil then -- the common case: passed on unchanged when it can be
      local i = lookup(key)
      local ok
      if text == value and select("#", ...) == 0 then
        ok = pass_on() -- kv("set", key, value) unchanged: no expiry, answer true
      else
        ok = pass_on("set", key, text)
      end
      if not ok then return end
      if not i then return add(key, text) end
      local seg = vals[i]
      bytes = bytes + #text - #seg[key]
      seg[key] = text
      if nexp > 0 then expire_at(i, key, 0) end
      return
    end
    local ms, nx, xx, keepttl, get = set_opts(opts)
    if not ms then return refuse(nx) end
    local i, old = lookup(key)
    if (nx and i) or (xx and not i) then -- nothing to write down
      if get then return old end
      return false
    end
    local at = ms > 0 and time() + ms or (keepttl and i and exps[i][key]) or 0
    local ok
    if get then
      ok = pass_on("set", key, text, at, old)
    else
      ok = pass_on("set", key, text, at)
    end
    if ok then put(i, key, text, at) end
  end

  function ops.delete(key, ...)
    local bad = bad_key(key) or cannot_write()
    if bad then return refuse(bad) end
    local i = lookup(key)
    if not i then return false end -- nothing to write down
    -- kv("delete", key) unchanged: what every writer takes, answered true
    local ok
    if select("#", ...) == 0 then ok = pass_on() else ok = pass_on("delete", key) end
    if ok then remove(i, key) end
  end

  function ops.getdel(key)
    local bad = bad_key(key) or cannot_write()
    if bad then return refuse(bad) end
    local i, old = lookup(key)
    if not i then return nil end
    if pass_on("delete", key, old) then remove(i, key) end
  end

  function ops.exists(...)
    local bad = bad_keys(1, ...)
    if bad then return refuse(bad) end
    local n, given = 0, { ... }
    for j = 1, select("#", ...) do
      if lookup(given[j]) then n = n + 1 end
    end
    return n
  end

  function ops.incr(key, by)
    local bad = bad_new_key(key)
    if bad then return refuse(bad) end
    if by == nil then by = 1 end
    by = type(by) == "number" and tointeger(by)
    if not by then return refuse("kv: incr takes an integer to add") end
    local i, old = lookup(key)
    local n = 0
    if i then
      n = integer_of(old)
      if not n then return refuse(NOT_INTEGER) end
    end
    if (by > 0 and n > math.maxinteger - by) or (by < 0 and n < math.mininteger - by) then
      return refuse(OVERFLOW)
    end
    n = n + by
    local text = ("%d"):format(n)
    if pass_on("set", key, text, i and exps[i][key] or 0, n) then put(i, key, text, 0, true) end
  end

  function ops.append(key, more)
    local bad = bad_new_key(key)
    if bad then return refuse(bad) end
    local text, why = text_of(more)
    if not text then return refuse(why) end
    local i, old = lookup(key)
    if old and #old + #text > MAX_VALUE then
      return refuse("a value has at most " .. MAX_VALUE .. " bytes")
    end
    local value = old and old .. text or text
    if pass_on("set", key, value, i and exps[i][key] or 0, #value) then
      put(i, key, value, 0, true)
    end
  end

  function ops.strlen(key)
    local bad = bad_key(key)
    if bad then return refuse(bad) end
    local _, v = lookup(key)
    return v and #v or 0
  end

  function ops.mget(...)
    local bad = bad_keys(1, ...)
    if bad then return refuse(bad) end
    local n, out, size, given = select("#", ...), {}, 0, { ... }
    for j = 1, n do
      local _, v = lookup(given[j])
      out[j] = v
      size = size + (v and #v or 0) + 8
    end
    if size > REPLY_MAX then return refuse("kv: the values do not fit in one reply") end
    return table.unpack(out, 1, n)
  end

  function ops.mset(...)
    local n = select("#", ...)
    if n == 0 or n % 2 ~= 0 then return refuse("kv: mset takes keys and values, in pairs") end
    local args = { ... }
    for j = 1, n, 2 do
      local bad = bad_new_key(args[j])
      if bad then return refuse(bad) end
      local text, why = text_of(args[j + 1])
      if not text then return refuse(why) end
      args[j + 1] = text
    end
    if not pass_on("mset", table.unpack(args, 1, n)) then return end
    for j = 1, n, 2 do
      local key = args[j]
      put(find(key), key, args[j + 1], 0)
    end
  end

  -- The pattern's matcher: a Lua pattern, or false (matches nothing); nil
  -- and why for a bad pattern.
  local function matcher(pattern)
    if type(pattern) ~= "string" then return nil, "a pattern is a string" end
    return glob(pattern)
  end

  function ops.keys(pattern)
    local pat, why = matcher(pattern)
    if pat == nil then return refuse(why) end
    local out, now, looked, size = {}, time(), 0, 0
    if pat == false then return out end
    local all = pat == "^.-$"
    for s = 1, #vals do
      for k in pairs(vals[s]) do
        if fresh(s, k, now) and (all or k:find(pat)) then
          out[#out + 1] = k
          size = size + #k + 8
        end
        looked = looked + 1
        beat(looked)
      end
    end
    if size > REPLY_MAX then
      return refuse("kv: the " .. #out .. " keys matching do not fit in one reply; use scan")
    end
    return out
  end

  function ops.scan(cur, pattern, want)
    cur = type(cur) == "number" and tointeger(cur)
    if not cur or cur < 0 then return refuse("kv: a scan cursor is an integer >= 0") end
    local pat, why = true
    if pattern ~= nil then
      pat, why = matcher(pattern)
      if pat == nil then return refuse(why) end
    end
    if want == nil then want = SCAN_COUNT end
    want = type(want) == "number" and tointeger(want)
    if not want or want < 1 then return refuse("kv: a scan count is an integer >= 1") end
    local out, num = {}, cur == 0 and 1 or cur
    if pat == false then return 0, out end
    -- the first chunk at or after num's
    local lo, hi = 1, #cids + 1
    while lo < hi do
      local mid = (lo + hi) // 2
      if cids[mid] < num // CHUNK then lo = mid + 1 else hi = mid end
    end
    local now, looked, size = time(), 0, 0
    for j = lo, #cids do
      local cid = cids[j]
      local c, from = chunks[cid], cid * CHUNK
      if from < num then from = num end
      for m = from, cid * CHUNK + CHUNK - 1 do
        local k = c[m % CHUNK + 1]
        if k then
          if (pat == true or k:find(pat)) and (nexp == 0 or fresh(find(k), k, now)) then
            out[#out + 1] = k
            size = size + #k + 8
          end
          looked = looked + 1
          if looked >= want or size >= REPLY_MAX then -- the reply is full
            if m + 1 >= nextnum then return 0, out end
            return m + 1, out
          end
        end
      end
    end
    return 0, out
  end

  function ops.expire(key, ms)
    local bad = bad_key(key) or cannot_write()
    if bad then return refuse(bad) end
    if type(ms) ~= "number" or ms ~= ms or ms >= 2 ^ 53 then
      return refuse("kv: expire takes a number of ms")
    end
    local i = lookup(key)
    if not i then return false end
    if ms < 1 then
      if pass_on("delete", key, true) then remove(i, key) end
      return
    end
    local at = time() + math.floor(ms)
    if pass_on("expire", key, at, true) then expire_at(i, key, at) end
  end

  function ops.ttl(key)
    local bad = bad_key(key)
    if bad then return refuse(bad) end
    local i = lookup(key)
    if not i then return -2 end
    local at = exps[i][key]
    if not at then return -1 end
    return at - time()
  end

  function ops.persist(key)
    local bad = bad_key(key) or cannot_write()
    if bad then return refuse(bad) end
    local i = lookup(key)
    if not i or not exps[i][key] then return false end
    if pass_on("expire", key, 0, true) then expire_at(i, key, 0) end
  end

  function ops.flush()
    local bad = cannot_write()
    if bad then return refuse(bad) end
    if pass_on("flush", true) then reset() end
  end

  function ops.count()
    sweep()
    return count
  end

  function ops.stats()
    sweep()
    return { keys = count, expiring = nexp, bytes = bytes }
  end

  function ops.info() return info end

  actor.serve{
    -- the writer's word that it takes no more changes: memory stays as it is
    failed = function(why) refused = why end,
    sweep = function()
      if actor.sender() ~= actor.self() then return refuse("unknown message 'sweep'") end
      sweeping = false
      if sweep(SWEEP_MAX) or hn > 0 then
        sweeping = true
        actor.after(SWEEP_MS, "sweep")
      end
    end,
    kv = function(op, ...)
      if unavailable then return refuse(unavailable) end
      local f = ops[op]
      if not f then return refuse("unknown request '" .. tostring(op) .. "'") end
      return f(...)
    end,
  }
end
