-- scripts/crashtest.d/verify.lua: checks a data directory after a kill.
--
--   troupe [store options] verify.lua JOURNAL STATE_OUT
--
-- JOURNAL is what the previous verification found (its STATE_OUT) followed
-- by the journal of the round just killed (model.lua). For each key, the
-- writes after its last acknowledged (or found) state may or may not have
-- made it; the key must hold exactly the state of one of them, or that
-- state itself (a set: its whole value; a delete, or nothing known:
-- nothing). So:
--   - every acknowledged write is there, or a later write of the same key;
--   - an unacknowledged write is either absent or whole, never partial;
--   - what was found before does not go back or change without a write;
--   - kv.count() is the number of journal keys present: nothing else
--     appeared.
-- Starting the store is part of the check: kv.info() must answer (the
-- writer loaded the directory, cutting off a torn tail if there was one).
--
-- Prints "info <kv.info()>", one "violation ..." line per problem (the
-- first 20), and a summary line of name=number pairs that crashtest adds
-- up; writes what it found to STATE_OUT ("is"/"gone" lines); exits 1 if
-- anything is wrong.
local kv = require "actor.kv"

local here = arg[0]:match("^(.*)/[^/]*$") or "."
local model = dofile(here .. "/model.lua")

local journal, state_out = arg[1], arg[2]
assert(journal and state_out, "usage: verify.lua JOURNAL STATE_OUT")

print("info " .. kv.info())

local keys, order = model.read_journal(journal)
local n = {
  keys = #order, -- keys the journal names
  acked_writes = 0, -- acknowledgements in this journal
  known_keys = 0, -- keys with an acknowledged or found state
  known_ok = 0, -- ... holding exactly it
  in_flight = 0, -- keys with unacknowledged writes after their known state (or none)
  landed = 0, -- ... holding one of them, whole
  not_landed = 0, -- ... holding the known state (or nothing, with nothing known)
  present = 0, -- journal keys present
  count = 0, -- kv.count()
  violations = 0,
}

local function violation(text)
  n.violations = n.violations + 1
  if n.violations <= 20 then print("violation " .. text) end
end

local function show(v)
  if v == nil then return "nothing" end
  local head = v:sub(1, 40):gsub("[^%w%p ]", function(c) return ("\\x%02x"):format(c:byte()) end)
  return ("%d bytes \"%s\"%s"):format(#v, head, #v > 40 and "..." or "")
end

local found = {} -- key -> {version, len} of what it holds, or false: absent

for _, key in ipairs(order) do
  local writes = keys[key]
  local last = 0 -- the last acknowledged (or found) state
  for i, w in ipairs(writes) do
    if w.acked then
      last = i
      if not w.seen then n.acked_writes = n.acked_writes + 1 end
    end
  end
  local function state(w)
    if w.op == "set" then return model.value(key, w.version, w.len) end
  end
  local got = kv.get(key)
  if got ~= nil then n.present = n.present + 1 end
  if last > 0 then n.known_keys = n.known_keys + 1 end
  local later -- an unacknowledged write after the last known state, whole
  for i = last + 1, #writes do
    if got == state(writes[i]) then later = i end
  end
  local ok = true
  local known = last > 0 and got == state(writes[last]) or last == 0 and got == nil
  if last < #writes then n.in_flight = n.in_flight + 1 end
  if known then
    if last > 0 then n.known_ok = n.known_ok + 1 end
    if last < #writes then n.not_landed = n.not_landed + 1 end
  elseif later then
    n.landed = n.landed + 1
  else
    ok = false
    -- what went wrong, as precisely as the value allows
    local why
    local version, len = nil, nil
    if got ~= nil then version, len = model.version_of(key, got) end
    local write -- the journal's write of that version, if it is still there
    for _, w in ipairs(writes) do
      if w.version == version and w.op == "set" then write = w end
    end
    if got == nil then
      why = "an acknowledged write is lost: the key is absent"
    elseif write and got == state(write) then
      why = ("it holds version %d, neither the last known state nor a later write"):format(version)
    elseif write and #got < #state(write) and state(write):sub(1, #got) == got then
      why = ("it holds a partial value of version %d (%d of %d bytes)"):format(
        version, #got, #state(write))
    elseif version and got == model.value(key, version, len) then
      why = ("it holds version %d, an older write than the journal keeps"):format(version)
    elseif version then
      why = ("it holds a damaged value of version %d"):format(version)
    else
      why = "it holds a value no write made (garbled)"
    end
    local w = writes[last]
    violation(("%s: %s; last known: %s; writes after it: %d; found %s"):format(
      key, why, w and ((w.seen and "found " or "acknowledged ") .. w.op .. " " .. w.version)
        or "none", #writes - last, show(got)))
  end
  if ok and got ~= nil then
    found[key] = { model.version_of(key, got) }
  elseif ok then
    found[key] = false
  end
end

n.count = kv.count()
if n.count ~= n.present then
  violation(("kv.count() is %d but %d of the journal's keys are present: keys nobody wrote")
    :format(n.count, n.present))
end

local parts = {}
for _, name in ipairs{ "keys", "acked_writes", "known_keys", "known_ok", "in_flight",
  "landed", "not_landed", "present", "count", "violations" } do
  parts[#parts + 1] = name .. "=" .. n[name]
end
print("result " .. table.concat(parts, " "))
io.stdout:flush()
if n.violations > 0 then os.exit(1) end

-- What was found is the next round's starting point.
local out = assert(io.open(state_out, "wb"))
for _, key in ipairs(order) do
  local f = found[key]
  if f then
    out:write("is ", key, " ", f[1], " ", f[2], "\n")
  elseif f == false then
    out:write("gone ", key, " 0\n")
  end
end
assert(out:close())
