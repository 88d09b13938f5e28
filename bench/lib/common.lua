-- bench/lib/common.lua -- what the Lua benches share: their command line
-- (scale, names) and TROUPE_BENCH_RUNS, and the table rows they print under
-- the header scripts/bench prints. A bench loads it with
--   local B = dofile(<its folder> .. "lib/common.lua")(script, names)
-- (not through require: bench/ is on no module path, and scripts/bench runs
-- every bench/*.lua, which is why this lives a folder down).
return function(script, names)
  local B = {}

  B.RUNS = math.tointeger(tonumber(os.getenv("TROUPE_BENCH_RUNS") or "5"))
  if not B.RUNS or B.RUNS < 1 then
    io.stderr:write(script .. ": TROUPE_BENCH_RUNS must be a whole number > 0\n")
    os.exit(2)
  end
  B.scale = tonumber(arg and arg[1] or "1")
  if not B.scale or B.scale <= 0 then
    io.stderr:write("usage: troupe " .. script .. " [scale > 0] [" .. names .. " ...]\n")
    os.exit(2)
  end
  local only = {}
  for i = 2, arg and #arg or 0 do only[arg[i]] = true end
  B.only = only -- the names given, as a set
  function B.wanted(name) return next(only) == nil or only[name] end

  function B.count(n) return math.max(1, math.floor(n * B.scale)) end

  function B.row(name, result, unit, target)
    print(string.format("| %s | %s | %s | %s |", name, result, unit, target))
    io.stdout:flush()
  end

  function B.rate_text(r)
    if r >= 1e6 then return string.format("%.2f M", r / 1e6) end
    if r >= 1e3 then return string.format("%.1f k", r / 1e3) end
    return string.format("%.0f", r)
  end

  -- Values of several runs as "median (min-max)", each through fmt.
  function B.runs_text(values, fmt)
    table.sort(values)
    return string.format("%s (%s-%s)", fmt(values[(#values + 1) // 2]), fmt(values[1]),
      fmt(values[#values]))
  end

  -- The command that runs this script again, shell-quoted: the binary
  -- and its options (arg[-n] .. arg[-1], --threads 1 say) and the script;
  -- nil outside a binary that sets them.
  function B.again()
    if not (arg and arg[-1] and arg[0]) then return nil end
    local first = -1
    while arg[first - 1] do first = first - 1 end
    local words = {}
    for i = first, 0 do words[#words + 1] = "'" .. arg[i]:gsub("'", "'\\''") .. "'" end
    return table.concat(words, " ")
  end

  return B
end
