-- actor.args: argument checks for the module's functions written in Lua,
-- raising as Lua's own libraries do ("bad argument #1 to 'kv.set' (string
-- expected, got number)"), at the line that called the checked function.
local args = {}

-- How Lua's errors name a value's type: its metatable's __name first
-- (a pid is a "pid").
local function typename(v)
  local mt = getmetatable(v)
  local name = type(mt) == "table" and rawget(mt, "__name")
  return type(name) == "string" and name or type(v)
end

-- Raises "bad argument #n to 'fname' (msg)". level is error's, as seen
-- from the function that calls this: 2 blames the caller of that function.
function args.error(fname, n, msg, level)
  error(("bad argument #%d to '%s' (%s)"):format(n, fname, msg), (level or 2) + 1)
end

-- Argument n of fname, given `count` arguments, must be of type t (a
-- string, not merely convertible to one). level as for args.error.
function args.check(fname, n, count, v, t, level)
  if type(v) ~= t then
    local got = n > count and "no value" or typename(v)
    args.error(fname, n, t .. " expected, got " .. got, (level or 2) + 1)
  end
  return v
end

return args
