#!/usr/bin/env python3
"""Logs and signals, through the troupe executable (TROUPE_BIN): the text
and JSON line formats, level filtering and its change at run time, the
actor named in a line, a supervisor's restart line, SIGHUP reopening the
log file, SIGTERM stopping in order under a store write load with nothing
acknowledged lost, and a second SIGTERM ending troupe at once. Every wait
is for an event (a line, a file, the exit), bounded by WAIT seconds."""
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("TROUPE_BIN", "troupe")
WAIT = 60  # generous: a busy 2-core machine, maybe under a sanitizer
TEXT = re.compile(r"(?s)^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) "
                  r"(error|warn |info |debug) (?:\[(<pid \d+\.\d+>)(?: (\S+))?\] )?(.*)$")


def run(args, **kw):
    p = subprocess.run([BIN, "--threads", "1", *args], capture_output=True,
                       timeout=WAIT, **kw)
    return p.returncode, p.stdout.decode(), p.stderr


def wait_for(what, check):
    end = time.monotonic() + WAIT
    while not check():
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.01)


def file_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


LOGGING = r'''
local actor = require "actor"
print(tostring(actor.self()))
actor.log("info", "from the root")
local done = actor.spawn(function()
  actor.register("worker", actor.self())
  print(tostring(actor.self()))
  actor.log("warn", "quote \" backslash \\ newline \n tab \t ctl \1 e\u{e9} bad \xff end")
end)
actor.monitor(done)
actor.receive()
actor.log("debug", "hidden at info")
actor.configure { log_level = "debug" }
actor.log("debug", "shown at debug")
actor.configure { log_level = "error" }
actor.log("warn", "hidden at error")
actor.log("error", "shown at error")
'''


def test_text():
    rc, out, err = run(["-e", LOGGING])
    assert rc == 0, err
    root, worker = out.splitlines()
    # A text line keeps a message's own newlines (a traceback stays readable).
    records = re.split(r"\n(?=\d{4}-)", err.decode(errors="replace").rstrip("\n"))
    lines = [TEXT.match(r) for r in records]
    assert all(lines), err
    got = [(m.group(2).strip(), m.group(3), m.group(4), m.group(5)) for m in lines]
    assert got[0] == ("info", root, None, "from the root"), got
    assert got[1][:3] == ("warn", worker, "worker"), got
    assert got[1][3].startswith("quote \" backslash \\ newline \n tab"), got
    msgs = [g[3] for g in got]
    assert "shown at debug" in msgs and "shown at error" in msgs, msgs
    assert "hidden at info" not in msgs and "hidden at error" not in msgs, msgs
    # The clock is UTC: the stamp is within a minute of now.
    stamp = time.strptime(lines[0].group(1)[:19], "%Y-%m-%dT%H:%M:%S")
    assert abs(time.mktime(stamp) - time.mktime(time.gmtime())) < 60


def test_json():
    rc, out, err = run(["--log-format", "json", "--log-level", "warn", "-e", LOGGING])
    assert rc == 0, err
    root, worker = out.splitlines()
    objs = [json.loads(l) for l in err.splitlines()]  # every line parses
    for o in objs:
        assert set(o) == {"ts", "level", "pid", "name", "msg"}, o
        assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", o["ts"]), o
    assert objs[0] == dict(objs[0], level="warn", pid=worker, name="worker",
                           msg="quote \" backslash \\ newline \n tab \t ctl \x01 "
                               "e\u00e9 bad \ufffd end"), objs[0]
    msgs = [o["msg"] for o in objs]
    # --log-level warn hides the root's info; the script changes it later.
    assert "from the root" not in msgs and "shown at debug" in msgs, msgs
    assert "hidden at error" not in msgs and "shown at error" in msgs, msgs
    root_lines = [o for o in objs if o["pid"] == root]
    assert root_lines and all(o["name"] is None for o in root_lines), objs


def test_bad_options():
    for args in (["--log-level", "loud", "-e", "return"],
                 ["--log-format", "xml", "-e", "return"], ["--log-file"]):
        rc, _, err = run(args)
        assert rc == 2 and b"--log-" in err, (args, err)
    rc, _, err = run(["--log-file", "/nonexistent/dir/x.log", "-e", "return"])
    assert rc == 1 and b"cannot open" in err, err


def test_supervisor_restart():
    rc, out, err = run(["-e", r'''
local actor = require "actor"
local root = actor.self()
actor.supervise { children = { { name = "c", start = function()
  actor.send(root, "up", actor.self())
  actor.receive()
  error("crashed on purpose", 0)
end } } }
local _, first = actor.receive()
actor.send(first, "die")
local _, second = actor.receive()
print(tostring(first), tostring(second))
'''])
    assert rc == 0, err
    first, second = re.findall(r"<pid \d+\.\d+>", out)
    want = "supervisor: restarted c: %s -> %s, reason: crashed on purpose" % (first, second)
    assert want in err.decode(), err


def test_sighup_reopens(tmp):
    log, moved = os.path.join(tmp, "troupe.log"), os.path.join(tmp, "troupe.log.1")
    p = subprocess.Popen([BIN, "--threads", "1", "--log-file", log, "-e", r'''
local actor = require "actor"
local i = 0
while true do i = i + 1; actor.log("info", "tick " .. i); actor.sleep(0.005) end
'''], stderr=subprocess.PIPE)
    try:
        wait_for("a tick", lambda: "tick " in file_text(log))
        os.rename(log, moved)
        p.send_signal(signal.SIGHUP)
        wait_for("a tick in the new file",
                 lambda: re.search(r"reopened.*\n(.*\n)*.*tick \d+", file_text(log)))
        p.send_signal(signal.SIGTERM)
        assert p.wait(WAIT) == 0
    finally:
        p.kill()
        p.wait()
    old = [int(n) for n in re.findall(r"tick (\d+)", file_text(moved))]
    new = [int(n) for n in re.findall(r"tick (\d+)", file_text(log))]
    # Every tick once, in order, the new file's after the old file's.
    assert old + new == list(range(1, len(old) + len(new) + 1)), (old, new)
    assert "SIGHUP: reopened" in file_text(log) and new
    assert "SIGTERM: stopping" in file_text(log)
    assert p.stderr.read() == b""


WRITERS = r'''
local actor = require "actor"
local kv = require "actor.kv"
local dir = ...
for w = 1, 4 do
  actor.spawn(function()
    local _ <close> = setmetatable({}, { __close = function()
      local f = assert(io.open(dir .. "/ended", "a"))
      f:write(w, "\n")
      f:close()
    end })
    local i = 0
    while true do
      i = i + 1
      assert(kv.set("w" .. w .. ":" .. i, tostring(i)))
      io.stdout:write("acked ", w, " ", i, "\n")
      io.stdout:flush()
    end
  end)
end
actor.receive()
'''


def test_sigterm_under_load(tmp):
    data = os.path.join(tmp, "data")
    out = open(os.path.join(tmp, "acked"), "w+")
    p = subprocess.Popen([BIN, "--threads", "1", "--data-dir", data, "-e", WRITERS, tmp],
                         stdout=out, stderr=subprocess.PIPE)
    try:
        wait_for("acknowledged writes", lambda: file_text(out.name).count("acked") >= 400)
        p.send_signal(signal.SIGTERM)
        rc = p.wait(WAIT)
    finally:
        p.kill()
        p.wait()
    err = p.stderr.read().decode()
    assert rc == 0, (rc, err)
    # Every worker's close ran, the newest first.
    assert file_text(os.path.join(tmp, "ended")).split() == ["4", "3", "2", "1"], err
    acked = re.findall(r"acked (\d+) (\d+)\n", file_text(out.name))
    last = {}
    for w, i in acked:
        last[w] = max(last.get(w, 0), int(i))
    assert len(last) == 4
    # A new troupe on the same data finds every acknowledged write.
    check = r'''
local kv = require "actor.kv"
local missing = 0
for w, n in (...):gmatch("(%d+)=(%d+)") do
  for i = 1, tonumber(n) do
    if kv.get("w" .. w .. ":" .. i) ~= tostring(i) then missing = missing + 1 end
  end
end
print("missing " .. missing)
'''
    rc, got, err = run(["--data-dir", data, "-e", check,
                        " ".join("%s=%d" % kv for kv in last.items())])
    assert rc == 0 and got.strip() == "missing 0", (rc, got, err)


def test_second_sigterm(tmp):
    fifo = os.path.join(tmp, "fifo")
    os.mkfifo(fifo)
    p = subprocess.Popen([BIN, "--threads", "1", "-e", r'''
local actor = require "actor"
local dir = ...
actor.spawn(function()
  local _ <close> = setmetatable({}, { __close = function()
    io.open(dir .. "/closing", "w"):close()
    io.open(dir .. "/fifo"):read() -- opening waits for a writer: none comes
  end })
  actor.receive()
end)
print("ready")
io.stdout:flush()
actor.receive()
''', tmp], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert p.stdout.readline() == b"ready\n"
        p.send_signal(signal.SIGTERM)
        wait_for("the stop to begin", lambda: os.path.exists(os.path.join(tmp, "closing")))
        p.send_signal(signal.SIGTERM)
        assert p.wait(WAIT) == -signal.SIGTERM
    finally:
        p.kill()
        p.wait()


def main():
    failed = 0
    for name, fn in list(globals().items()):
        if not name.startswith("test_"):
            continue
        try:
            if fn.__code__.co_argcount:
                with tempfile.TemporaryDirectory(prefix="logs-") as tmp:
                    fn(tmp)
            else:
                fn()
            print("ok", name)
        except Exception as e:  # report every test, then fail
            failed += 1
            print("FAILED", name, repr(e)[:2000])
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
