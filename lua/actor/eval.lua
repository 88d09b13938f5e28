-- actor.eval: what the REPL and the console share -- compiling a line as
-- lua5.4 does (an expression's values first) and writing values back as
-- Lua would (tables nested, strings quoted when a bare one could mislead).
local M = {}

local MAX_DEPTH, MAX_ITEMS, MAX_LINE = 4, 30, 400

local keywords = {}
for w in ([[and break do else elseif end false for function goto if in
  local nil not or repeat return then true until while]]):gmatch("%a+") do
  keywords[w] = true
end

local function is_name(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") and not keywords[s]
end

-- A string printed bare could be mistaken for another value: quote it.
local function ambiguous(s)
  return s == "" or s:match("^%s") or s:match("%s$") or s:match("[%c]")
    or tonumber(s) ~= nil or s == "nil" or s == "true" or s == "false"
end

local function is_pid(v)
  local mt = getmetatable(v)
  return type(mt) == "table" and mt.__name == "actor.pid"
end

-- One value as Lua would write it, tables nested up to MAX_DEPTH with
-- MAX_ITEMS entries each; cycles and deeper tables show as {...}.
local function pretty(v, depth, seen)
  local t = type(v)
  if t == "string" then
    return ("%q"):format(v):gsub("\\\n", "\\n")
  elseif t ~= "table" or is_pid(v) then
    return tostring(v)
  end
  local mt = getmetatable(v)
  if type(mt) == "table" and mt.__tostring then return tostring(v) end
  if seen[v] or depth >= MAX_DEPTH then return "{...}" end
  if next(v) == nil then return "{}" end
  seen[v] = true
  local out, n = {}, 0
  local len = #v
  for i = 1, len do
    n = n + 1
    if n > MAX_ITEMS then break end
    out[n] = pretty(v[i], depth + 1, seen)
  end
  local keys = {}
  for k in pairs(v) do
    if not (math.type(k) == "integer" and k >= 1 and k <= len) then keys[#keys + 1] = k end
  end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  for _, k in ipairs(keys) do
    n = n + 1
    if n > MAX_ITEMS then break end
    local key = is_name(k) and k or "[" .. pretty(k, MAX_DEPTH, seen) .. "]"
    out[n] = key .. " = " .. pretty(v[k], depth + 1, seen)
  end
  seen[v] = nil
  if n > MAX_ITEMS then out[MAX_ITEMS + 1] = "..." end
  return "{" .. table.concat(out, ", ") .. "}"
end

-- The values of r (a table.pack) as one line; nil for none.
function M.format(r)
  if r.n == 0 then return nil end
  local parts = {}
  for i = 1, r.n do
    local v = r[i]
    if type(v) == "string" and not ambiguous(v) then
      parts[i] = v
    else
      parts[i] = pretty(v, 0, {})
    end
    if #parts[i] > MAX_LINE * 4 then parts[i] = parts[i]:sub(1, MAX_LINE * 4) .. "..." end
  end
  return table.concat(parts, "\t")
end

-- The chunk for `src`: an expression's values first (as lua5.4 does), then
-- statements; "=expr" is "return expr".
function M.compile(src, name)
  if src:sub(1, 1) == "=" then src = "return " .. src:sub(2) end
  local fn = load("return " .. src, name or "=stdin")
  if fn then return fn end
  return load(src, name or "=stdin")
end

M.is_name, M.keywords, M.pretty = is_name, keywords, function(v) return pretty(v, 0, {}) end

return M
