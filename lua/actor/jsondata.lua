-- actor.jsondata: reading the JSON writer's data.json (actor.jsonwriter),
-- apart from the actor so that it can be run on its own (fuzz/fuzz_json.c
-- feeds it arbitrary bytes). The format: an object of key -> array of byte
-- values ({"hello":[119,111,114,108,100]}), decoded with lua-cjson.
local cjson = require "cjson"

local M = {}

local TICK = 65536 -- items of work between two calls of tick

local function from_bytes(t, tick)
  local parts = {}
  for i = 1, #t, 4096 do
    parts[#parts + 1] = string.char(table.unpack(t, i, math.min(i + 4095, #t)))
    if tick and i % TICK == 1 then tick() end
  end
  return table.concat(parts)
end

-- The decoded file as key -> string, or nil and what is wrong with it.
local function check(obj, tick)
  if type(obj) ~= "table" then return nil, "not a JSON object" end
  local data, n = {}, 0
  for k, v in pairs(obj) do
    if type(k) ~= "string" then return nil, "a key is not a string" end
    -- an object decodes to a table too: only keys 1..#v make an array
    local items = 0
    if type(v) == "table" then
      for _ in pairs(v) do
        items = items + 1
        if tick and items % TICK == 0 then tick() end
      end
    end
    if type(v) ~= "table" or items ~= #v then
      return nil, "the value of '" .. k .. "' is not an array"
    end
    for i = 1, #v do
      local b = v[i]
      if type(b) ~= "number" or b < 0 or b > 255 or b % 1 ~= 0 then
        return nil, "the value of '" .. k .. "' holds something other than bytes"
      end
      if tick and i % TICK == 0 then tick() end
    end
    local ok, s = pcall(from_bytes, v, tick)
    if not ok then return nil, s end
    data[k] = s
    n = n + 1
    if tick then tick() end
  end
  return data, n
end

-- The text of a data.json as its data (key -> string) and the number of
-- keys, or nil and why it cannot be read ("it is empty", "it is not valid
-- JSON (...)", or what is wrong with its shape). Never raises (but for
-- tick, which, if given, is called after the decoding, for each key and
-- every TICK bytes of a long value: the writer shows its supervisor it is
-- alive while reading a big file).
function M.parse(text, tick)
  local ok, obj = pcall(cjson.decode, text)
  if tick then tick() end
  if text:match("^%s*$") then
    return nil, "it is empty"
  elseif not ok then
    return nil, "it is not valid JSON (" .. tostring(obj) .. ")"
  end
  return check(obj, tick)
end

return M
