-- actor.jsondata: the JSON writer's data.json format (actor.jsonwriter),
-- apart from the actor so that it can be run on its own (fuzz/fuzz_json.c
-- feeds parse arbitrary bytes). The format: an object of key -> array of
-- byte values ({"hello":[119,111,114,108,100]}), read with lua-cjson; a
-- key that expires is key -> {"value":[bytes...],"expires":<ms since the
-- Unix epoch>} instead. A key is JSON text, so it must be valid UTF-8; a
-- value is any bytes.
local cjson = require("cjson").new() -- our own settings, whatever others set

local M = {}

local TICK = 65536 -- items of work between two calls of tick
local SLICE = 4096 -- string.byte / string.char take their values on the C stack

-- ------------------------------------------------------------- reading

local function from_bytes(t, tick)
  local parts = {}
  for i = 1, #t, SLICE do
    parts[#parts + 1] = string.char(table.unpack(t, i, math.min(i + SLICE - 1, #t)))
    if tick and i % TICK == 1 then tick() end
  end
  return table.concat(parts)
end

-- A key as a message shows it: quoted, cut short, every byte that is not
-- printable ASCII as \xHH.
local function show(key)
  local cut = #key > 40 and key:sub(1, 40) or key
  cut = cut:gsub('[%c"\\\128-\255]', function(c) return ("\\x%02x"):format(c:byte()) end)
  return '"' .. cut .. (#key > 40 and '..."' or '"')
end

-- The decoded object as key -> string, the number of keys and key -> when
-- it expires (for those that do), leaving out those expired by `now`
-- (if given); or nil and what is wrong with it.
local function check(obj, tick, now)
  local data, n, exps = {}, 0, {}
  for k, v in pairs(obj) do
    if not utf8.len(k) then return nil, "the key " .. show(k) .. " is not valid UTF-8" end
    local at = 0
    if type(v) == "table" and v.value ~= nil then -- {"value":[...],"expires":ms}
      local fields = 0
      for _ in pairs(v) do fields = fields + 1 end
      at = math.tointeger(v.expires)
      if fields ~= 2 or not at or at < 0 then
        return nil, "the value of " .. show(k) .. ' is not an array (nor {"value":[...],'
          .. '"expires":<ms>})'
      end
      v = v.value
    end
    -- an object decodes to a table too: only keys 1..#v make an array
    local items = 0
    if type(v) == "table" then
      for _ in pairs(v) do
        items = items + 1
        if tick and items % TICK == 0 then tick() end
      end
    end
    if type(v) ~= "table" or items ~= #v then
      return nil, "the value of " .. show(k) .. " is not an array"
    end
    for i = 1, #v do
      local b = v[i]
      if type(b) ~= "number" or b < 0 or b > 255 or b % 1 ~= 0 then
        return nil, "the value of " .. show(k) .. " holds something other than bytes"
      end
      if tick and i % TICK == 0 then tick() end
    end
    if at == 0 or not now or at > now then
      data[k] = from_bytes(v, tick)
      n = n + 1
      if at > 0 then exps[k] = at end
    end
    if tick then tick() end
  end
  return data, n, exps
end

local TOP = { ["["] = "an array", ['"'] = "a string", n = "null", t = "a boolean",
  f = "a boolean" }

-- What is wrong with text that cjson takes or refuses, in words: cjson
-- reads a NUL byte as the end of the text, and takes an array where an
-- object must be.
local function shape(text, ok, obj)
  local nul = text:find("\0", 1, true)
  if nul then
    if nul == 1 and not text:find("[^%z]") then
      return "it is " .. #text .. " zero bytes (as a crash can leave)"
    elseif not text:find("[^%z]", nul) then
      return ("it ends in %d zero bytes after byte %d (padding, as a crash can leave)")
        :format(#text - nul + 1, nul - 1)
    end
    return "it holds a zero byte at byte " .. nul .. ", which JSON text never has"
  end
  if not ok then
    local at = tostring(obj):match("^Expected the end but found .- at character (%d+)")
    if at then return "it is not valid JSON: it has more after the object, at byte " .. at end
    if tostring(obj):find("found T_END", 1, true) then
      return "it is not valid JSON: it is cut short (" .. tostring(obj) .. ")"
    end
    return "it is not valid JSON (" .. tostring(obj) .. ")"
  end
  local first = text:match("^[ \t\r\n]*(.)")
  if first ~= "{" then
    return "the top level is " .. (TOP[first] or "a number") .. ", not a JSON object"
  end
end

-- The text of a data.json as its data (key -> string), the number of
-- keys and their expiry times (key -> ms since the epoch, for keys that
-- expire; keys expired by `now`, if given, are left out), or nil and why
-- it cannot be read ("it is empty", "it is not valid
-- JSON (...)", "the top level is an array, not a JSON object", "it ends in
-- 4096 zero bytes ...", or what is wrong with a key or a value). Never
-- raises (but for tick, which, if given, is called after the decoding,
-- for each key and every TICK bytes of a long value: the writer shows its
-- supervisor it is alive while reading a big file).
function M.parse(text, tick, now)
  if text:match("^%s*$") then return nil, "it is empty" end
  local ok, obj = pcall(cjson.decode, text)
  if tick then tick() end
  local why = shape(text, ok, obj)
  if why then return nil, why end
  return check(obj, tick, now)
end

-- ------------------------------------------------------------- writing

-- Why key cannot be a key of data.json, or nil if it can: JSON text is
-- Unicode, so a key must be valid UTF-8 (utf8.len is strict: no
-- surrogates, no overlong forms, nothing past U+10FFFF).
function M.bad_key(key)
  if not utf8.len(key) then
    return "the key " .. show(key) .. " is not valid UTF-8, and a JSON key is text"
  end
end

-- The text of one entry, '"key":[1,2,3]', for a key bad_key accepts; for
-- one that expires at `at` (ms since the epoch, > 0),
-- '"key":{"value":[1,2,3],"expires":at}'. cjson escapes the key (quotes,
-- backslashes, control characters); the bytes are joined here in slices
-- (Debian's lua-cjson 2.1 would write an empty array as {}). tick, if
-- given, is called every TICK bytes.
function M.entry(key, value, tick, at)
  local n, bytes = #value
  if n <= SLICE then
    bytes = table.concat({ value:byte(1, n) }, ",")
  else
    local parts = {}
    for i = 1, n, SLICE do
      parts[#parts + 1] = table.concat({ value:byte(i, math.min(i + SLICE - 1, n)) }, ",")
      if tick and i % TICK == 1 then tick() end
    end
    bytes = table.concat(parts, ",")
  end
  if at and at > 0 then
    return cjson.encode(key) .. ':{"value":[' .. bytes .. '],"expires":' .. ("%d"):format(at)
      .. "}"
  end
  return cjson.encode(key) .. ":[" .. bytes .. "]"
end

return M
