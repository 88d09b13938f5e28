-- scripts/bench.d/report.lua -- scripts/bench's rows as data, and as a plot.
--
--   lua5.4 report.lua json ROWS RUNS COMMIT CPU DATE   JSON on stdout
--   lua5.4 report.lua plot NEW.json SVG [OLD.json]     a gnuplot script on stdout
--
-- ROWS holds the benchmarks' markdown rows, | name | result | unit | target |,
-- where a result is "median (min-max)" or, for a row measured once, a single
-- value; "1.23 M" is 1.23e6, "4.5 k" 4500. JSON: one object per row (name,
-- median, min, max, unit, target, runs) under the run's commit, cpu, date.
-- The plot has a panel per unit, a bar per row at its median with a min-max
-- error bar; with OLD.json, the old run's bar (grey) beside the new one's,
-- and the change of the median in percent.
local cmd = arg[1]

local function number(text)
  local v, suffix = text:match("^%s*([%d.]+)%s*([kM]?)%s*$")
  v = tonumber(v)
  if not v then return nil end
  return v * (suffix == "M" and 1e6 or suffix == "k" and 1e3 or 1)
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

local function json_string(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return c == '"' and '\\"' or c == "\\" and "\\\\" or string.format("\\u%04x", c:byte())
  end) .. '"'
end

local function json_number(v) return string.format("%.17g", v) end

if cmd == "json" then
  local rows_file, runs, commit, cpu, date = arg[2], tonumber(arg[3]), arg[4], arg[5], arg[6]
  local out = {}
  for line in io.lines(rows_file) do
    local name, result, unit, target = line:match("^|(.-)|(.-)|(.-)|(.-)|%s*$")
    if name and not result:match("^%-+$") and trim(name) ~= "benchmark" then
      result = trim(result)
      local med, lo, hi = result:match("^(.-) %((.-)%-(.-)%)$")
      local n = runs
      if med then
        med, lo, hi = number(med), number(lo), number(hi)
      else
        med = number(result)
        lo, hi, n = med, med, 1
      end
      if med and lo and hi then
        out[#out + 1] = string.format('    {"name": %s, "median": %s, "min": %s, "max": %s, '
          .. '"unit": %s, "target": %s, "runs": %d}', json_string(trim(name)), json_number(med),
          json_number(lo), json_number(hi), json_string(trim(unit)), json_string(trim(target)), n)
      else
        io.stderr:write("scripts/bench: not a result, left out of the JSON: ", line, "\n")
      end
    end
  end
  io.write(string.format(
    '{\n  "commit": %s,\n  "cpu": %s,\n  "date": %s,\n  "rows": [\n%s\n  ]\n}\n',
    json_string(commit), json_string(cpu), json_string(date), table.concat(out, ",\n")))
  return
end

if cmd ~= "plot" then
  io.stderr:write("usage: report.lua json ROWS RUNS COMMIT CPU DATE\n"
    .. "       report.lua plot NEW.json SVG [OLD.json]\n")
  os.exit(2)
end

local cjson = require "cjson"
local function load(file)
  local f = assert(io.open(file))
  local data = cjson.decode(f:read("a"))
  f:close()
  return data
end

local new = load(arg[2])
local svg = arg[3]
local old = arg[4] and load(arg[4])
local old_rows = {}
for _, r in ipairs(old and old.rows or {}) do old_rows[r.name] = r end

local function short(v)
  local a = math.abs(v)
  if a >= 1e6 then return string.format("%.2f M", v / 1e6) end
  if a >= 1e4 then return string.format("%.1f k", v / 1e3) end
  if a >= 100 or v == math.floor(v) then return string.format("%.0f", v) end
  return string.format("%.2f", v)
end

-- Labels on one line each: long names are cut.
local function label(name)
  name = name:gsub("\t", " ")
  if #name > 90 then name = name:sub(1, 87) .. "..." end
  return name
end

-- Panels by unit, in the order the units first appear.
local panels, by_unit = {}, {}
for _, r in ipairs(new.rows) do
  local p = by_unit[r.unit]
  if not p then
    p = { unit = r.unit, rows = {} }
    by_unit[r.unit] = p
    panels[#panels + 1] = p
  end
  p.rows[#p.rows + 1] = r
end

local ROW, HEAD, WIDTH = 26, 70, 1500
local height = 60
for _, p in ipairs(panels) do height = height + HEAD + ROW * #p.rows end

local g = {}
local function say(...) g[#g + 1] = string.format(...) end
say("set terminal svg size %d,%d dynamic enhanced font 'sans,11' background '#ffffff'", WIDTH,
  height)
say("set output %s", json_string(svg))
say("set datafile separator '\\t'")
say("set datafile missing '?'")
say("set multiplot title %s noenhanced", json_string(string.format(
  "troupe bench @ %s, %s, %s: median, error bar min-max%s", new.commit, new.date, new.cpu,
  old and string.format("; blue: this run, grey: %s @ %s, %s", arg[4], old.commit, old.date)
  or "")))
say("unset key")
say("set style fill solid 0.8 noborder")
say("set lmargin at screen 0.42")
say("set rmargin at screen 0.97")
say("set ytics nomirror scale 0 noenhanced")
say("set xtics nomirror")
say("set format x '%%.1s%%c'")
say("set grid xtics")
local top = 1 - 40 / height
for i, p in ipairs(panels) do
  local h = (HEAD + ROW * #p.rows) / height
  local n, hi = #p.rows, 0
  say("$d%d << EOD", i)
  for k, r in ipairs(p.rows) do
    local o = old_rows[r.name]
    local text = short(r.median)
    if o and o.median ~= 0 then
      text = text .. string.format(" (%+.1f%%)", (r.median - o.median) / o.median * 100)
    end
    hi = math.max(hi, r.max, o and o.max or 0)
    say("%d\t%.17g\t%.17g\t%.17g\t%s\t%s\t%s\t%s", n - k, r.median, r.min, r.max,
      o and string.format("%.17g", o.median) or "?", o and string.format("%.17g", o.min) or "?",
      o and string.format("%.17g", o.max) or "?", label(r.name) .. "\t" .. text)
  end
  say("EOD")
  say("set origin 0,%.6f", top - h)
  say("set size 1,%.6f", h)
  say("set tmargin 1.6")
  say("set bmargin 1.6")
  say("set title %s noenhanced offset 0,-0.6", json_string(p.unit))
  say("set xrange [0:%.17g]", hi > 0 and hi * 1.25 or 1)
  say("set yrange [-0.6:%f]", n - 0.4)
  local y = old and "($1+0.18)" or "($1)"
  local plots = {}
  if old then
    plots[#plots + 1] = "$d" .. i
      .. " using (0):($1-0.18):(0):5:($1-0.36):($1) with boxxyerror lc rgb '#b0b0b0'"
    plots[#plots + 1] = "'' using 5:($1-0.18):6:7 with xerrorbars pt -1 lc rgb '#606060'"
  end
  plots[#plots + 1] = string.format(
    "$d%d using (0):%s:(0):2:(%s-%s):(%s+%s):ytic(8) with boxxyerror lc rgb '#3a6fb0'", i, y, y,
    old and "0.18" or "0.35", y, old and "0.18" or "0.35")
  plots[#plots + 1] = string.format("'' using 2:%s:3:4 with xerrorbars pt -1 lc rgb '#000000'", y)
  plots[#plots + 1] = string.format("'' using 4:%s:9 with labels left offset 0.6,0 noenhanced", y)
  say("plot %s", table.concat(plots, ", \\\n     "))
  top = top - h
end
say("unset multiplot")
print(table.concat(g, "\n"))
