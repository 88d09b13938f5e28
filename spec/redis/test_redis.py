#!/usr/bin/env python3
"""
test_redis.py -- the store in Redis (--store redis): a real redis-server
started on a free local port (no snapshots, no AOF: nothing on disk), and
build/troupe processes serving actor.kv and the RESP gateway from it,
driven by Lua scripts and by redis-cli; then Redis killed (SIGKILL),
stopped (SIGSTOP) and restarted under them.

  test_redis.py [test names...]   (TROUPE_BIN: the troupe binary)

Exits 77 (ctest's SKIP_RETURN_CODE) when redis-server or redis-cli is
missing. Every wait polls for its event with a deadline; nothing sleeps and
hopes.
"""
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from redisserver import CLI, SERVER, WAIT, cli, wait_for  # noqa: E402
from redisserver import RedisServer as Redis  # noqa: E402

BIN = os.environ.get("TROUPE_BIN", "build/troupe")
TIMEOUT_S = 2.0  # the store's wait for Redis (redis_timeout_ms's default)


class Troupe:
    """troupe --store redis, with the RESP gateway on a port it picks; runs
    script (a Lua chunk) as its root. stdout and stderr are read as they
    come: lines, and the log."""

    def __init__(self, url, script='require("actor").receive()', opts=()):
        self.data = tempfile.mkdtemp(prefix="troupe-redis-")
        self.p = subprocess.Popen(
            [BIN, "--threads", "1", "--data-dir", self.data, "--store", "redis",
             "--redis", url, "--resp", "127.0.0.1:0", *opts, "-e", script],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.log = b""
        self.out = b""
        self.port = int(self.wait_log("resp: listening on ").split(
            "listening on ")[1].split()[0].rsplit(":", 1)[1])

    def pump(self, timeout):
        """Reads what the process wrote within timeout seconds."""
        r, _, _ = select.select([self.p.stdout, self.p.stderr], [], [], timeout)
        for f in r:
            chunk = os.read(f.fileno(), 65536)
            if f is self.p.stderr:
                self.log += chunk
            else:
                self.out += chunk

    def lines(self, which="log"):
        text = self.log if which == "log" else self.out
        return text.decode(errors="replace").splitlines()

    def wait_log(self, text, count=1, timeout=WAIT):
        """The count-th log line holding text, once it is there."""
        end = time.monotonic() + timeout
        while True:
            hits = [ln for ln in self.lines() if text in ln]
            if len(hits) >= count:
                return hits[count - 1]
            left = end - time.monotonic()
            assert left > 0 and self.p.poll() is None, \
                "no log line %r (log: %r)" % (text, self.log)
            self.pump(left)

    def wait_out(self, cond, what, timeout=WAIT):
        end = time.monotonic() + timeout
        while True:
            v = cond(self.lines("out"))
            if v:
                return v
            left = end - time.monotonic()
            assert left > 0 and self.p.poll() is None, \
                "timed out waiting for %s (out: %r, log: %r)" % (what, self.out, self.log)
            self.pump(min(left, 0.1))

    def cli(self, *args):
        return cli(self.port, *args)

    def stop(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(WAIT)
        self.p.stdout.close()
        self.p.stderr.close()
        shutil.rmtree(self.data, ignore_errors=True)


def run_lua(url, script):
    """troupe --store redis running script to its end: (exit code, stdout, log)."""
    data = tempfile.mkdtemp(prefix="troupe-redis-")
    try:
        r = subprocess.run([BIN, "--threads", "1", "--data-dir", data, "--store", "redis",
                            "--redis", url, "-e", script],
                           capture_output=True, timeout=WAIT * 3)
        return r.returncode, r.stdout.decode(), r.stderr.decode()
    finally:
        shutil.rmtree(data, ignore_errors=True)


# ------------------------------------------------------------------ tests

KV_SCRIPT = r"""
local actor, kv = require "actor", require "actor.kv"
local function eq(a, b, what)
  if a ~= b then error(what .. ": " .. tostring(a) .. " ~= " .. tostring(b), 2) end
end
eq(kv.set("greeting", "hello"), true, "set")
eq(kv.get("greeting"), "hello", "get")
eq(kv.get("missing"), nil, "get missing")
eq(kv.set("greeting", "x", { nx = true }), false, "set nx")
eq(kv.set("greeting", "hi", { xx = true, get = true }), "hello", "set xx get")
eq(kv.set("n", 41), true, "set a number")
eq(kv.incr("n"), 42, "incr")
eq(kv.append("greeting", "!"), 3, "append")
eq(kv.strlen("greeting"), 3, "strlen")
eq(kv.exists("greeting"), true, "exists")
eq(kv.mset{ a = "1", b = 2.5 }, true, "mset")
local a, b, c = kv.mget("a", "b", "c")
eq(a, "1", "mget a") eq(b, "2.5", "mget b") eq(c, nil, "mget c")
eq(kv.delete("a"), true, "delete") eq(kv.delete("a"), false, "delete again")
eq(kv.getdel("b"), "2.5", "getdel") eq(kv.get("b"), nil, "gone after getdel")
local ok, err = pcall(kv.incr, "greeting")
eq(ok, false, "incr of text") eq(err:match("kv: the value is not an integer") ~= nil, true, err)
eq(kv.set("brief", "v", { px = 300 }), true, "set px")
local ms = kv.pttl("brief")
eq(ms > 0 and ms <= 300, true, "pttl " .. ms)
eq(kv.ttl("greeting"), -1, "ttl of a key that does not expire")
eq(kv.expire("n", 60), true, "expire")
eq(kv.persist("n"), true, "persist") eq(kv.ttl("n"), -1, "persisted")
local t0 = actor.now()
while kv.get("brief") ~= nil do
  if actor.now() - t0 > 5000 then error("brief did not expire") end
  actor.sleep(20)
end
eq(kv.ttl("brief"), -2, "ttl of an expired key")
local keys = kv.keys("*") table.sort(keys)
eq(table.concat(keys, ","), "greeting,n", "keys")
local seen, cur = {}, 0
repeat
  local batch
  cur, batch = kv.scan(cur, nil, 1)
  for _, k in ipairs(batch) do seen[k] = true end
until cur == 0
eq(seen.greeting and seen.n, true, "scan")
eq(kv.count(), 2, "count")
eq(kv.stats().keys, 2, "stats")
eq(kv.info():match("the store is in Redis at redis://") ~= nil, true, kv.info())
eq(kv.flush(), true, "flush") eq(kv.count(), 0, "count after flush")
print("all good")
"""


def test_actor_kv(r):
    """actor.kv's requests, each over Redis; what it wrote is in Redis."""
    rc, out, log = run_lua(r.url(1), KV_SCRIPT)
    assert rc == 0 and "all good" in out, (rc, out, log)
    assert "kv: redis: connected to " + r.url(1) in log, log
    rc, out, log = run_lua(r.url(1), 'require("actor.kv").set("from-lua", "yes")')
    assert rc == 0, log
    assert cli(r.port, "GET", "from-lua", db=1) == "yes"
    assert cli(r.port, "GET", "from-lua", db=0) == ""  # its own database


def test_gateway(r):
    """The RESP gateway over the redis store, with the real redis-cli."""
    t = Troupe(r.url(2))
    try:
        assert t.cli("SET", "k", "v") == "OK"
        assert t.cli("GET", "k") == "v"
        assert cli(r.port, "GET", "k", db=2) == "v"  # it is in Redis
        assert t.cli("SET", "k", "w", "NX") == ""
        assert t.cli("INCRBY", "c", "5") == "5"
        assert t.cli("DEL", "k", "c", "nothing") == "2"
        assert t.cli("GET", "k") == ""
        assert t.cli("SET", "e", "1", "PX", "200") == "OK"
        ms = int(t.cli("PTTL", "e"))
        assert 0 < ms <= 200, ms
        wait_for(lambda: t.cli("EXISTS", "e") == "0", "e to expire")
        assert t.cli("MSET", "a", "1", "b", "2") == "OK"
        assert t.cli("MGET", "z", "a", "b").split("\n") == ["", "1", "2"]
        assert t.cli("DBSIZE") == "2"
        # written in Redis directly, read through troupe
        assert cli(r.port, "SET", "direct", "d", db=2) == "OK"
        assert t.cli("GET", "direct") == "d"
        cli(r.port, "RPUSH", "alist", "x", db=2)
        assert "WRONGTYPE" in t.cli("GET", "alist"), t.cli("GET", "alist")
    finally:
        t.stop()


def test_two_processes(r):
    """Two troupe processes on one Redis see each other's writes, through
    the gateway and through actor.kv."""
    a, b = Troupe(r.url(3)), Troupe(r.url(3))
    try:
        assert a.cli("SET", "shared", "from-a") == "OK"
        assert b.cli("GET", "shared") == "from-a"
        assert b.cli("INCR", "hits") == "1"
        assert a.cli("INCR", "hits") == "2"
        rc, out, log = run_lua(r.url(3), 'print(require("actor.kv").get("shared"))')
        assert rc == 0 and out.strip() == "from-a", (out, log)
        assert b.cli("DEL", "shared") == "1"
        assert a.cli("EXISTS", "shared") == "0"
        # INCRs from both at once, 10 clients each: none lost (one command
        # each, atomic in Redis)
        bench = shutil.which("redis-benchmark")
        if bench:
            runs = [subprocess.Popen([bench, "-p", str(t.port), "-t", "incr", "-n", "2000",
                                      "-c", "10", "-q"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL) for t in (a, b)]
            assert [p.wait(WAIT * 3) for p in runs] == [0, 0]
            assert cli(r.port, "GET", "counter:__rand_int__", db=3) == "4000"
    finally:
        a.stop()
        b.stop()


PROBE = r"""
local actor, kv = require "actor", require "actor.kv"
kv.set("probe", "there")
while true do
  local t0 = actor.now()
  local ok, v = pcall(kv.get, "probe")
  print(("%s %.0f %s"):format(ok and "ok" or "err", actor.now() - t0, tostring(v)))
  io.stdout:flush()
  actor.sleep(20)
end
"""


def probe_lines(lines, kind):
    return [ln for ln in lines if ln.startswith(kind + " ")]


def test_killed_and_restarted(r):
    """Redis killed: requests (actor.kv and the gateway) fail at once with
    "redis unavailable", one "lost" log line however many fail; Redis back on
    the same port: traffic resumes, one "reconnected" line."""
    # by name: looked up at start, and again (off the loop) after the loss
    t = Troupe("redis://localhost:%d/4" % r.port, PROBE)
    try:
        t.wait_out(lambda ls: len(probe_lines(ls, "ok")) >= 3, "probes answered")
        assert t.cli("SET", "g", "1") == "OK"
        r.kill()
        t.wait_out(lambda ls: len(probe_lines(ls, "err")) >= 20, "probes failing")
        errs = probe_lines(t.lines("out"), "err")
        for ln in errs:
            _, ms, why = ln.split(" ", 2)
            assert "redis unavailable" in why, ln
            assert int(ms) < TIMEOUT_S * 1000 + 500, ln
        for _ in range(10):  # the gateway too, and each at once
            t0 = time.monotonic()
            out = t.cli("GET", "g")
            assert "redis unavailable" in out, out
            assert time.monotonic() - t0 < TIMEOUT_S + 1, out
        t.pump(0.2)
        lost = [ln for ln in t.lines() if "kv: redis: lost" in ln]
        assert len(lost) == 1, t.lines()
        r.start()
        t.wait_log("kv: redis: reconnected to ")
        n = len(t.lines("out"))
        t.wait_out(lambda ls: len(probe_lines(ls[n:], "ok")) >= 3, "probes answered again")
        assert t.cli("SET", "g", "2") == "OK" and t.cli("GET", "g") == "2"
        t.pump(0.2)
        log = t.lines()
        assert len([ln for ln in log if "kv: redis: reconnected" in ln]) == 1, log
        assert len([ln for ln in log if "kv: redis: lost" in ln]) == 1, log
        assert not [ln for ln in log if "cannot connect" in ln], log
    finally:
        t.stop()


def test_hung(r):
    """Redis stopped (SIGSTOP): a request fails after the store's timeout
    (--redis-timeout), not the caller's, with "no answer within"; Redis
    resumed, it works."""
    t = Troupe(r.url(5), opts=("--redis-timeout", "800"))
    try:
        assert t.cli("SET", "h", "1") == "OK"
        r.p.send_signal(signal.SIGSTOP)
        t0 = time.monotonic()
        out = t.cli("GET", "h")
        took = time.monotonic() - t0
        assert "redis unavailable: no answer within 800 ms" in out, out
        assert 0.7 < took < 2.5, took
        r.p.send_signal(signal.SIGCONT)
        wait_for(lambda: t.cli("GET", "h") == "1", "the store to answer again")
    finally:
        r.p.send_signal(signal.SIGCONT)
        t.stop()


def test_password(r):
    """AUTH with the URL's password; a wrong one: requests fail saying so,
    the log says it once, and the store keeps trying."""
    assert cli(r.port, "CONFIG", "SET", "requirepass", "sesame") == "OK"
    good = Troupe("redis://:sesame@127.0.0.1:%d/6" % r.port)
    bad = Troupe("redis://:wrong@127.0.0.1:%d/6" % r.port)
    try:
        assert good.cli("SET", "p", "1") == "OK"
        assert good.cli("GET", "p") == "1"
        assert "Redis refused AUTH: WRONGPASS" in bad.cli("GET", "p")
        bad.wait_log("kv: redis: cannot connect to redis://:***@127.0.0.1")
        for _ in range(5):
            out = bad.cli("GET", "p")
            assert "redis unavailable: Redis refused AUTH: WRONGPASS" in out, out
        bad.pump(0.3)  # retries meanwhile, at debug level
        assert len([ln for ln in bad.lines() if "cannot connect" in ln]) == 1, bad.lines()
        assert not [ln for ln in bad.lines() if "connected to" in ln], bad.lines()
        assert "sesame" not in good.log.decode() and "wrong" not in bad.log.decode()
    finally:
        good.stop()
        bad.stop()


def test_bad_url(r):
    """A bad URL is refused at start, saying why."""
    data = tempfile.mkdtemp(prefix="troupe-redis-")
    try:
        p = subprocess.run([BIN, "--data-dir", data, "--store", "redis", "--redis",
                            "http://127.0.0.1:1", "-e", "print(1)"],
                           capture_output=True, timeout=WAIT)
        assert p.returncode != 0, p
        err = p.stderr.decode()
        assert "redis must be redis://HOST[:PORT][/DB]" in err, err
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main():
    if not SERVER or not CLI:
        print("skipped: redis-server or redis-cli is missing")
        return 77
    tests = [test_actor_kv, test_gateway, test_two_processes,
             test_killed_and_restarted, test_hung, test_password, test_bad_url]
    only = set(sys.argv[1:])
    failed = 0
    for fn in tests:
        if only and fn.__name__ not in only:
            continue
        r = Redis()
        t0 = time.monotonic()
        try:
            fn(r)
            print("ok   %s (%.1f s)" % (fn.__name__, time.monotonic() - t0))
        except Exception:  # noqa: BLE001 -- report every test
            failed += 1
            print("FAIL " + fn.__name__)
            traceback.print_exc()
        finally:
            r.stop()
    print("%d failed" % failed)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
