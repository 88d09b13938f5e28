-- actor.jsonfile: the text of the JSON writer's data.json, kept between
-- writes so that a batch of changes costs what it changed, plus one pass
-- over the file's pieces, not the encoding of the whole store.
--
-- Each key's entry ('"key":[1,2,3]', or '"key":{"value":[1,2,3],"expires":
-- ms}' for one that expires: actor.jsondata) is encoded once, when
-- it is set, and kept in a dense array (a delete moves the last entry into
-- the hole). The array is cut into buckets of BUCKET entries whose joined
-- text is kept too, until one of their entries changes. pieces() returns
-- the file as a short array of strings -- "{", the buckets with commas
-- between them, "}" -- which actor.file.write_atomic writes without
-- joining them: at 2000 keys a set re-encodes one entry, re-joins one
-- bucket of BUCKET entries, and hands 33 strings to writev.
local jsondata = require "actor.jsondata"

local BUCKET = 128

local File = {}
File.__index = File

local M = {}

-- The entry text for key and value (key as jsondata.bad_key accepts).
M.entry = jsondata.entry

-- An empty file: "{}".
function M.new()
  return setmetatable({
    n = 0, -- entries
    list = {}, -- entry texts, 1..n
    at = {}, -- key -> its index in list
    keyof = {}, -- index -> key
    joined = {}, -- bucket -> the text of its entries, joined; nil: to join
    bytes = 2, -- the size of the file's text
  }, File)
end

-- Sets key's entry to e, made by M.entry.
function File:put(key, e)
  local i = self.at[key]
  if i then
    self.bytes = self.bytes + #e - #self.list[i]
  else
    i = self.n + 1
    self.n, self.at[key], self.keyof[i] = i, i, key
    self.bytes = self.bytes + #e + (i > 1 and 1 or 0)
  end
  self.list[i] = e
  self.joined[(i - 1) // BUCKET + 1] = nil
end

-- Removes key's entry, if it has one.
function File:remove(key)
  local i, n = self.at[key], self.n
  if not i then return end
  local list, keyof = self.list, self.keyof
  self.bytes = self.bytes - #list[i] - (n > 1 and 1 or 0)
  if i ~= n then
    local moved = keyof[n]
    list[i], keyof[i], self.at[moved] = list[n], moved, i
  end
  list[n], keyof[n], self.at[key] = nil, nil, nil
  self.n = n - 1
  self.joined[(i - 1) // BUCKET + 1] = nil
  self.joined[(n - 1) // BUCKET + 1] = nil
end

-- The file of data (key -> value; exps, if given: key -> when it expires);
-- tick, if given, is called as it goes.
function M.of(data, tick, exps)
  local f = M.new()
  for k, v in pairs(data) do
    f:put(k, jsondata.entry(k, v, tick, exps and exps[k]))
    if tick and f.n % 1024 == 0 then tick() end
  end
  return f
end

-- The file's text as an array of strings to write one after another.
function File:pieces()
  local out, list, joined, n = { "{" }, self.list, self.joined, self.n
  for b = 1, (n + BUCKET - 1) // BUCKET do
    local text = joined[b]
    if not text then
      text = table.concat(list, ",", (b - 1) * BUCKET + 1, math.min(b * BUCKET, n))
      joined[b] = text
    end
    if b > 1 then out[#out + 1] = "," end
    out[#out + 1] = text
  end
  out[#out + 1] = "}"
  return out
end

return M
