-- scripts/crashtest.d/model.lua: what load.lua and verify.lua share -- the
-- value a write puts under a key, and the journal that says what was written.
--
-- A write is (key, version, length). Its value is fully determined by them:
--
--   <key> "#" <version> ":" <body> "."
--
-- where the body is length times one byte (any of 0..255, NUL and invalid
-- UTF-8 included) chosen by a hash of key and version. A value cut short or
-- mixed with another is never equal to any write's value, so the verifier
-- compares bytes for bytes.
--
-- The journal is what load.lua prints on stdout, one line per event, in the
-- order they happened (each line is written and flushed before the next
-- step, so a SIGKILL leaves a prefix of it; crashtest drops a last line
-- cut short):
--
--   set <key> <version> <length>   about to send kv.set(key, value(...))
--   del <key> <version>            about to send kv.delete(key)
--   ack <key> <version>            that request was acknowledged (a set: true;
--                                  a delete: whether the key was there)
--
-- and, from the verifier's state file (what it found last time, which is
-- from then on as binding as an acknowledgement):
--
--   is <key> <version> <length>    the key held value(key, version, length)
--   gone <key> 0                   the key was absent
--
-- Every key is written by one client at a time, and rounds follow each
-- other, so the lines of one key are in the order its writes happened.
local M = {}

-- FNV-1a, 32 bits: a hash-ish number for a string.
local function fnv(s)
  local h = 2166136261
  for i = 1, #s do
    h = ((h ~ s:byte(i)) * 16777619) & 0xffffffff
  end
  return h
end

function M.value(key, version, len)
  local byte = (fnv(key .. "#" .. version) >> 16) & 0xff
  return key .. "#" .. version .. ":" .. string.rep(string.char(byte), len) .. "."
end

-- The version a value claims to be of and the length of its body, if it
-- looks like one of ours.
function M.version_of(key, v)
  local version, colon = v:sub(#key + 1):match("^#(%d+)():")
  if v:sub(1, #key) ~= key or not version then return nil end
  return math.tointeger(tonumber(version)), #v - #key - colon - 1
end

-- A small deterministic generator (xorshift64*) per client, so a seed
-- replays the same choices (the timing, and so the kill points, differ).
function M.rng(seed)
  local x = seed ~ 0x2545F4914F6CDD1D
  if x == 0 then x = 1 end
  return function(n) -- an integer in 1..n
    x = x ~ (x >> 12)
    x = x ~ (x << 25)
    x = x ~ (x >> 27)
    local r = (x * 0x2545F4914F6CDD1D) >> 33
    return r % n + 1
  end
end

-- The journal read back: keys[key] = the list of its writes, each
-- {op = "set"|"del", version, len, acked, seen}, in the order they happened
-- (seen: a state the verifier found before); order = the keys in
-- first-seen order.
function M.read_journal(path)
  local keys, order = {}, {}
  local lines = 0
  local function add(key, w)
    local list = keys[key]
    if not list then
      list = {}
      keys[key] = list
      order[#order + 1] = key
    end
    list[#list + 1] = w
  end
  local f = assert(io.open(path, "rb"))
  for line in f:lines() do
    lines = lines + 1
    local op, key, version, len = line:match("^(%a+) (%S+) (%d+) ?(%d*)$")
    version, len = math.tointeger(tonumber(version)), math.tointeger(tonumber(len))
    if (op == "set" or op == "is") and not len then op = nil end
    if op == "set" or op == "del" then
      add(key, { op = op, version = version, len = len, acked = false })
    elseif op == "is" or op == "gone" then
      add(key, { op = op == "is" and "set" or "del", version = version, len = len,
        acked = true, seen = true })
    elseif op == "ack" and keys[key] then
      local list = keys[key]
      local last = list[#list]
      if last.version ~= version or last.acked then
        error(("%s:%d: ack of %s %d, but its last write was %s %d"):format(
          path, lines, key, version, last.op, last.version))
      end
      last.acked = true
    else
      error(("%s:%d is not an event: %q"):format(path, lines, line))
    end
  end
  f:close()
  return keys, order
end

return M
