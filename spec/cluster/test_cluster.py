#!/usr/bin/env python3
"""A cluster over NATS, through the troupe executable (TROUPE_BIN): a real
nats-server with JetStream, started here on a free port with a store
directory of its own and stopped at the end, and two or three troupe nodes
(processes) in it. Send and call both ways, pids in messages used as
destinations, global names (registered, found and used from another node,
released when the owner ends and when its node is SIGKILLed), spawning by
module on another node, a message over max_payload refused at the sender,
a node SIGKILLed (monitors and links get "noconnection" in under 2 s, a
call in flight fails at once), nats-server restarted under load (no hang,
traffic resumes, the refused reported), a stop while NATS is away (no
wait for it), --help and bad options, mutual TLS to a server that wants it,
a plain lua5.4 script joined with actor.configure{cluster = ...}. Every
wait is for an event (a line, an exit), bounded."""
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("TROUPE_BIN", "troupe")
NATS_SERVER = os.environ.get("TROUPE_NATS_SERVER", "nats-server")
WAIT = 30  # generous: a busy 2-core machine, maybe under a sanitizer

COMMON = r'''
-- common: what the node scripts share
local actor = require "actor"
local M = {}
function M.say(...)
  print(...)
  io.stdout:flush()
end
-- waits until name is registered globally (another node may still start)
function M.wait_global(name)
  for _ = 1, 3000 do
    local pid = actor.whereis_global(name)
    if pid then return pid end
    actor.sleep(10)
  end
  error("no global name " .. name)
end
return M
'''

REMOTE_MOD = r'''
local actor = require "actor"
return function(parent, tag)
  local name, id = actor.node()
  actor.send(parent, "hello", tag, name, id, actor.host())
end
'''

# A: serves echo, calls back to a pid it is given, answers pings with
# pongs, and owns global names.
NODE_A = r'''
local actor = require "actor"
local c = require "common"
actor.register_global("a.srv")
actor.register_global("odd name/\u{e9}")
actor.register("local_a", actor.self())
actor.spawn(function()
  actor.register_global("temp")
  actor.receive()
end)
c.say("ready")
actor.serve{
  echo = function(...) return ... end,
  ask_back = function(pid, ...) return actor.call(pid, "echo", ...) end,
  ping = function(from, n) actor.send(from, "pong", n) end,
  fwd = function(to) actor.forward(to) end, -- the call goes on, its caller kept
  helper = function()
    return actor.spawn(function() actor.serve{ fwd = function(_, ...) return "helper", ... end } end)
  end,
  quit = function() actor.exit("normal") end,
}
'''

NODE_B = r'''
local actor = require "actor"
local c = require "common"
local srv = c.wait_global("a.srv")
c.say("node", actor.node())
local names = {}
for _, n in ipairs(actor.nodes()) do names[#names + 1] = n.name .. n.id .. "/" .. n.hosts end
table.sort(names)
c.say("nodes", table.concat(names, ","))
c.say("echo", actor.call(srv, "echo", 1, "two", true))
local t = actor.call(srv, "echo", { k = { 1, 2, 3 }, s = "x\0y" })
c.say("table", t.k[3], #t.s)
-- a pid of this node travels in a message and is called back from A
local me = actor.spawn(function() actor.serve{ echo = function(...) return ... end } end)
c.say("ask_back", actor.call(srv, "ask_back", me, "from", "b"))
-- forwarded by A to another actor of A's, answered straight back
c.say("forward", actor.call(srv, "fwd", actor.call(srv, "helper"), "echoed"))
-- one-way both ways, in order: bursts within A's mailbox
local got = 0
for burst = 0, 9 do
  for i = 1, 500 do actor.send(srv, "ping", actor.self(), burst * 500 + i) end
  for i = 1, 500 do
    local name, n = actor.receive(10000)
    assert(name == "pong" and n == burst * 500 + i, tostring(name) .. " " .. tostring(n))
    got = got + 1
  end
end
c.say("pongs", got)
-- by global name, with bytes outside the key alphabet
c.say("call_global", actor.call_global("odd name/\u{e9}", "echo", "hi"))
actor.send_global("a.srv", "ping", actor.self(), 7)
c.say("send_global", select(2, actor.receive(10000)))
c.say("taken", pcall(actor.register_global, "a.srv"))
-- a local name of another node
c.say("remote local", actor.whereis("local_a", "A") == srv, actor.whereis("nobody", "A"))
-- spawning by module there
local pid = actor.spawn{ node = "A", module = "remote_mod", args = { actor.self(), "t1" } }
c.say("spawned", select(2, actor.receive(10000)))
c.say("spawned pid node", pid ~= nil)
-- "any": that node's hosts in turn
local seen = {}
for i = 1, 2 do
  actor.spawn{ node = 1, module = "remote_mod", host = "any", args = { actor.self(), "any" .. i } }
  local _, _, _, _, host = actor.receive(10000)
  seen[#seen + 1] = host
end
table.sort(seen)
c.say("any hosts", table.concat(seen, ","))
-- large messages up to the limit; over it, refused here
local big = string.rep("x", 1000000)
c.say("big", #actor.call(srv, "echo", big))
c.say("toolarge call", pcall(actor.call, srv, "echo", string.rep("y", 2 * 1024 * 1024)))
c.say("toolarge send", actor.send(srv, "echo", string.rep("y", 2 * 1024 * 1024)))
-- killed from here; its name is released when it ends
actor.kill(actor.whereis_global("temp"), "killed")
local gone = false
for _ = 1, 500 do
  if not actor.whereis_global("temp") then gone = true break end
  actor.sleep(10)
end
c.say("temp released", gone)
-- unregister
actor.register_global("b.mine")
actor.unregister_global("b.mine")
c.say("unregistered", actor.whereis_global("b.mine"))
actor.send(srv, "quit")
c.say("done")
'''

VICTIM = r'''
local actor = require "actor"
local c = require "common"
actor.register_global("victim")
c.say("ready")
actor.serve{ hang = function() actor.sleep(600000) end }
'''

WATCHER = r'''
local actor = require "actor"
local c = require "common"
actor.configure{ call_timeout = 600000 }
local v = c.wait_global("victim")
local parent = actor.self()
actor.monitor(v)
-- a call in flight when the node dies: its timeout is far
actor.spawn(function()
  local ok, e = pcall(actor.call, v, "hang")
  actor.send(parent, "call", ok, e)
end)
-- an actor linked to the victim, watched
local linked = actor.spawn(function() actor.link(v) actor.receive() end)
actor.monitor(linked)
actor.sleep(200) -- the call and the link have left
c.say("armed")
local seen = {}
for _ = 1, 3 do
  local m = table.pack(actor.receive(10000))
  if m[1] == "down" then
    seen[#seen + 1] = (m[3] == v and "victim " or "linked ") .. tostring(m[4])
  else
    seen[#seen + 1] = "call " .. tostring(m[2]) .. " " .. tostring(m[3])
  end
  c.say(seen[#seen])
end
c.say("whereis after", actor.whereis_global("victim"))
c.say("send after", actor.send(v, "anyone?"))
-- the name is free for another owner now
actor.register_global("victim")
c.say("taken over", actor.whereis_global("victim") == actor.self())
'''

CLEAN = r'''
local actor = require "actor"
local c = require "common"
actor.register_global("clean")
c.say("ready")
actor.receive() -- "go": the script ends, the node stops cleanly
'''

CLEAN_WATCHER = r'''
local actor = require "actor"
local c = require "common"
local pid = c.wait_global("clean")
actor.monitor(pid)
actor.send(pid, "go")
local name, _, _, why = actor.receive(10000)
c.say(name, why)
local gone = false
for _ = 1, 500 do
  if not actor.whereis_global("clean") then gone = true break end
  actor.sleep(10)
end
c.say("released", gone)
-- A's farewell: it leaves the nodes at once, well before a silent node
-- would be lost (5 s here)
local names, t0 = {}, actor.now()
repeat
  names = {}
  for _, n in ipairs(actor.nodes()) do names[#names + 1] = n.name end
  if #names > 1 then actor.sleep(10) end
until #names == 1 or actor.now() - t0 > 1000
c.say("nodes", table.concat(names, ","))
'''

LOAD_SERVER = r'''
local actor = require "actor"
local c = require "common"
actor.register_global("echo")
c.say("ready")
actor.serve{ echo = function(...) return ... end }
'''

LOAD_CLIENT = r'''
local actor = require "actor"
local c = require "common"
actor.configure{ call_timeout = 1000 }
local srv = c.wait_global("echo")
local ok_n, failed, reasons, i = 0, 0, {}, 0
local warm, after = false, 0
local deadline = actor.now() + 25000
while actor.now() < deadline do
  i = i + 1
  local ok, e = pcall(actor.call, srv, "echo", i)
  if ok then
    ok_n = ok_n + 1
    if failed > 0 then after = after + 1 end
    if ok_n == 200 and not warm then warm = true c.say("warm") end
    if after >= 200 then break end
  else
    failed = failed + 1
    local why = tostring(e):match("failed: (%w+)") or tostring(e)
    reasons[why] = (reasons[why] or 0) + 1
    actor.sleep(5)
  end
end
local r = {}
for k, n in pairs(reasons) do r[#r + 1] = k .. "=" .. n end
table.sort(r)
c.say("summary", ok_n, failed, after, table.concat(r, ","))
'''


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for(what, check, limit=WAIT):
    end = time.monotonic() + limit
    while not check():
        assert time.monotonic() < end, "timed out waiting for " + what
        time.sleep(0.01)


def text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class Nats:
    """nats-server -js on a free port, its store and log in dir."""

    def __init__(self, dir):
        self.dir, self.port, self.proc = dir, free_port(), None
        self.url = "nats://127.0.0.1:%d" % self.port
        self.start()

    def start(self):
        log = os.path.join(self.dir, "nats.log")
        before = text(log).count("Server is ready")
        self.proc = subprocess.Popen(
            [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(self.port),
             "-sd", os.path.join(self.dir, "store"), "-l", log],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for("nats-server ready", lambda: text(log).count("Server is ready") > before
                 or self.proc.poll() is not None)
        assert self.proc.poll() is None, text(log)[-2000:]

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(WAIT)


class Node:
    """A troupe process in the cluster, its stdout read line by line."""

    def __init__(self, dir, nats, name, script, cluster, *extra):
        self.name = name
        self.log = os.path.join(dir, name + ".log")
        path = os.path.join(dir, name + ".lua")
        with open(path, "w") as f:
            f.write(script)
        if "--cluster-lost-ms" not in extra:
            # not a test of losing a node: a machine busy enough to hold a
            # node's heartbeats up 1.5 s must not make it lost
            extra = ("--cluster-lost-ms", "5000") + extra
        self.proc = subprocess.Popen(
            [BIN, "--threads", "2", "--cluster", nats.url, "--node", name,
             "--cluster-name", cluster, *extra, path],
            stdout=subprocess.PIPE, stderr=open(self.log, "wb"))
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)
        self.buf = b""

    def line(self, limit=WAIT):
        end = time.monotonic() + limit
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            assert left > 0, "%s: no line in time%s" % (self.name, self.logs())
            if self.sel.select(left):
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                assert chunk, "%s ended%s" % (self.name, self.logs())
                self.buf += chunk
        out, self.buf = self.buf.split(b"\n", 1)
        return out.decode(errors="replace")

    def logs(self):
        """The logs of every node in the test's folder, to see why."""
        dir = os.path.dirname(self.log)
        return "".join("\n-- %s:\n%s" % (f, text(os.path.join(dir, f))[-2000:])
                       for f in sorted(os.listdir(dir)) if f.endswith(".log"))

    def expect(self, prefix, limit=WAIT):
        got = self.line(limit)
        assert got.startswith(prefix), "%s: wanted %r, got %r" % (self.name, prefix, got)
        return got

    def wait(self):
        rc = self.proc.wait(WAIT)
        self.proc.stdout.close()
        self.sel.close()
        return rc

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.wait()


def setup_dir(dir):
    for name, body in (("common.lua", COMMON), ("remote_mod.lua", REMOTE_MOD)):
        with open(os.path.join(dir, name), "w") as f:
            f.write(body)


def test_messages_names_spawn(dir, nats):
    a = Node(dir, nats, "A", NODE_A, "t1")
    try:
        a.expect("ready")
        b = Node(dir, nats, "B", NODE_B, "t1")
        try:
            assert b.expect("node") == "node\tB\t2"  # A claimed id 1 first
            assert b.expect("nodes") == "nodes\tA1/2,B2/2"
            assert b.expect("echo") == "echo\t1\ttwo\ttrue"
            assert b.expect("table") == "table\t3\t3"
            assert b.expect("ask_back") == "ask_back\tfrom\tb"
            assert b.expect("forward") == "forward\thelper\techoed"
            assert b.expect("pongs") == "pongs\t5000"
            assert b.expect("call_global") == "call_global\thi"
            assert b.expect("send_global") == "send_global\t7"
            got = b.expect("taken")
            assert got.startswith("taken\tfalse\t") and "is taken" in got, got
            assert b.expect("remote local") == "remote local\ttrue\tnil"
            assert b.expect("spawned\t") == "spawned\tt1\tA\t1\t0"
            assert b.expect("spawned pid") == "spawned pid node\ttrue"
            assert b.expect("any hosts") == "any hosts\t0,1"
            assert b.expect("big") == "big\t1000000"
            got = b.expect("toolarge call")
            assert got.startswith("toolarge call\tfalse\t") and got.endswith("failed: toolarge"), got
            got = b.expect("toolarge send")
            assert got.startswith("toolarge send\tnil\ttoolarge: "), got
            assert b.expect("temp released") == "temp released\ttrue"
            assert b.expect("unregistered") == "unregistered\tnil"
            b.expect("done")
            assert b.wait() == 0, text(b.log)
            assert a.wait() == 0, text(a.log)
        finally:
            b.kill()
    finally:
        a.kill()


def test_node_killed(dir, nats):
    lost = ("--cluster-lost-ms", "1500")  # the default, the bound under test
    a = Node(dir, nats, "A", VICTIM, "t2", *lost)
    try:
        a.expect("ready")
        b = Node(dir, nats, "B", WATCHER, "t2", *lost)
        try:
            b.expect("armed")
            killed = time.monotonic()
            a.kill()
            seen = sorted(b.line(10) for _ in range(3))
            took = time.monotonic() - killed
            assert seen[0].startswith("call false") and seen[0].endswith("failed: noconnection"), seen
            assert seen[1:] == ["linked noconnection", "victim noconnection"], seen
            assert took < 2.0, "the lost node was noticed after %.2f s" % took
            assert b.expect("whereis after") == "whereis after\tnil"
            got = b.expect("send after")
            assert got.startswith("send after\tnil\t"), got
            assert b.expect("taken over") == "taken over\ttrue"
            assert b.wait() == 0, text(b.log)
        finally:
            b.kill()
    finally:
        a.kill()


def test_clean_stop(dir, nats):
    a = Node(dir, nats, "A", CLEAN, "t5")
    try:
        a.expect("ready")
        b = Node(dir, nats, "B", CLEAN_WATCHER, "t5")
        try:
            got = [b.line() for _ in range(3)]
            assert got == ["down\tnormal", "released\ttrue", "nodes\tB"], got
            assert a.wait() == 0, text(a.log)
            assert b.wait() == 0, text(b.log)
        finally:
            b.kill()
    finally:
        a.kill()


def test_nats_restart(dir, nats):
    a = Node(dir, nats, "A", LOAD_SERVER, "t3")
    try:
        a.expect("ready")
        b = Node(dir, nats, "B", LOAD_CLIENT, "t3")
        try:
            b.expect("warm")
            nats.kill()
            wait_for("B to see the drop", lambda: "connection to" in text(b.log), 10)
            nats.start()
            got = b.expect("summary", 25).split("\t")
            ok_n, failed, after = int(got[1]), int(got[2]), int(got[3])
            assert failed > 0 and after >= 200, got
            # what was refused is said: failures by reason, and in the log
            assert "noconnection" in got[4] or "timeout" in got[4], got
            log = text(b.log)
            assert "lost" in log and "back (" in log and "refused meanwhile" in log, log
            assert b.wait() == 0, log
        finally:
            b.kill()
        a.proc.send_signal(signal.SIGTERM)
        assert a.wait() == 0, text(a.log)
    finally:
        a.kill()


def run(*args):
    p = subprocess.run([BIN, "--threads", "1", *args], capture_output=True, timeout=WAIT)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def test_options(dir, nats):
    rc, out, _ = run("--help")
    assert rc == 0
    for opt in ("--cluster nats://", "--node NAME", "--cluster-name", "--cluster-lost-ms",
                "--cluster-creds", "--cluster-tls ca=FILE,cert=FILE,key=FILE"):
        assert opt in out, opt
    bad = [
        (["--cluster", nats.url, "-e", ""], 2, "--cluster needs --node too"),
        (["--node", "x", "-e", ""], 2, "--node needs --cluster too"),
        (["--cluster", "http://x", "--node", "x", "-e", ""], 2, "nats://HOST:PORT"),
        (["--cluster", nats.url, "--node", "bad name", "-e", ""], 2, "node's name must be"),
        (["--cluster", nats.url, "--node", "x", "--cluster-lost-ms", "5", "-e", ""], 2,
         "--cluster-lost-ms: 100 to 60000"),
        (["--cluster", nats.url, "--node", "x", "--cluster-tls", "pem=x", "-e", ""], 2,
         "--cluster-tls: ca=FILE"),
        (["--cluster", nats.url, "--node", "x", "--cluster-tls", "cert=a", "-e", ""], 2,
         "cert and key go together"),
        (["--cluster", nats.url, "--node", "x", "--cluster-creds",
          os.path.join(dir, "none.creds"), "-e", ""], 2, "--cluster-creds"),
        (["--cluster", "nats://127.0.0.1:%d" % free_port(), "--node", "x", "-e", ""], 1,
         "cannot reach the NATS server"),
        (["--cluster", nats.url, "--node"], 2, "--node needs a value"),
    ]
    for args, want_rc, want in bad:
        rc, _, err = run(*args)
        assert rc == want_rc and want in err, (args, rc, err)
    # the binary's host exists before any script: refused, saying what to do
    rc, _, err = run("-e", 'require("actor").configure{ cluster = "nats://x:1", node = "n" }')
    assert rc == 1 and "cluster cannot be set once the host runs" in err, err
    assert "troupe --cluster nats://HOST:PORT --node NAME" in err and "plain Lua" in err, err
    # a name held by a live node is refused
    a = Node(dir, nats, "dup", LOAD_SERVER, "t4")
    try:
        a.expect("ready")
        rc, _, err = run("--cluster", nats.url, "--node", "dup", "--cluster-name", "t4", "-e", "")
        assert rc == 1 and "runs already" in err, err
        # a node not in a cluster says so
        rc, out, err = run("-e", 'local a = require("actor") print(a.node(), #a.nodes()) '
                                 'print(pcall(a.register_global, "x"))')
        assert rc == 0 and out.startswith("nil\t0\nfalse\t") and "not in a cluster" in out, out
    finally:
        a.kill()


# A plain lua5.4 script joins the cluster with actor.configure, then calls
# A's global name and is called back by A (arg: the server's URL, the
# cluster's name, a URL nobody listens on).
MODULE_MODE = r'''
local actor = require "actor"
local url, cluster, nobody = arg[1], arg[2], arg[3]
local function say(...) print(...) io.stdout:flush() end
say("bad", pcall(actor.configure, { cluster = url, node = "bad name" }))
say("alone", pcall(actor.configure, { cluster = url }))
say("lost_ms", pcall(actor.configure, { cluster = url, node = "m", cluster_lost_ms = 5 }))
say("unreachable", pcall(actor.configure, { cluster = nobody, node = "m" }))
local s = actor.configure{ cluster = url, node = "m", cluster_name = cluster }
say("set", s.cluster == url, s.node)
say("again", pcall(actor.configure, { cluster = url, node = "m2" }))
actor.run(function()
  say("node", actor.node())
  local srv
  for _ = 1, 3000 do
    srv = actor.whereis_global("a.srv")
    if srv then break end
    actor.sleep(10)
  end
  local me = actor.spawn(function() actor.serve{ echo = function(...) return ... end } end)
  say("ask_back", actor.call(srv, "ask_back", me, "from", "m"))
  say("call_global", actor.call_global("a.srv", "echo", "hi"))
  actor.send(srv, "quit")
end)
say("done")
'''


def test_module_mode(dir, nats):
    lua = os.environ.get("TROUPE_LUA54")
    if not lua:
        print("   (no lua5.4: skipped)")
        return
    src = os.environ["TROUPE_LUA_DIR"]
    env = dict(os.environ, LUA_PATH="%s/?.lua;%s/?/init.lua;;" % (src, src),
               LUA_CPATH=os.environ["TROUPE_LUA_CPATH"] + ";;")
    if os.environ.get("TROUPE_LUA_PRELOAD"):  # an instrumented module
        env.update(LD_PRELOAD=os.environ["TROUPE_LUA_PRELOAD"],
                   ASAN_OPTIONS="detect_leaks=0")
    path = os.path.join(dir, "module_mode.lua")
    with open(path, "w") as f:
        f.write(MODULE_MODE)
    a = Node(dir, nats, "A", NODE_A, "t7")
    try:
        a.expect("ready")
        nobody = "nats://127.0.0.1:%d" % free_port()
        p = subprocess.run([lua, path, nats.url, "t7", nobody], capture_output=True,
                           timeout=WAIT, env=env, cwd=dir)
        out, err = p.stdout.decode(), p.stderr.decode()
        assert p.returncode == 0, (p.returncode, out, err)
        lines = out.splitlines()
        want = [
            "bad\tfalse\tbad argument #1 to 'actor.configure' (node must be 1 to 64",
            "alone\tfalse\tbad argument #1 to 'actor.configure' (cluster needs node too",
            "lost_ms\tfalse\tbad argument #1 to 'actor.configure' (cluster_lost_ms must be",
            "unreachable\tfalse\t",
            "set\ttrue\tm",
            "again\tfalse\t",
            "node\tm\t2",  # A claimed id 1 first
            "ask_back\tfrom\tm",
            "call_global\thi",
            "done",
        ]
        assert len(lines) == len(want), (out, err)
        for got, w in zip(lines, want):
            assert got.startswith(w), (got, w, out, err)
        assert "cannot reach the NATS server " + nobody in lines[3], lines[3]
        assert "cluster cannot be set once the host runs" in lines[5], lines[5]
        assert a.wait() == 0, text(a.log)
    finally:
        a.kill()


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=WAIT)


def test_tls(dir, nats):
    """--cluster-tls: a CA made here, a server that requires TLS and a
    client certificate (mutual TLS); joined with them, refused without."""
    import shutil
    if not shutil.which("openssl"):
        print("   (no openssl: skipped)")
        return
    t = os.path.join(dir, "tls")
    os.mkdir(t)
    p = lambda name: os.path.join(t, name)  # noqa: E731
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p("ca.key"),
            "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=troupe test CA")
    with open(p("ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    for who in ("server", "client"):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p(who + ".key"),
                "-out", p(who + ".csr"), "-subj", "/CN=127.0.0.1")
        openssl("x509", "-req", "-in", p(who + ".csr"), "-CA", p("ca.pem"), "-CAkey",
                p("ca.key"), "-CAcreateserial", "-out", p(who + ".pem"), "-days", "2",
                "-extfile", p("ext"))
    port = free_port()
    log = p("nats.log")
    server = subprocess.Popen(
        [NATS_SERVER, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", p("store"),
         "--tlsverify", "--tlscert", p("server.pem"), "--tlskey", p("server.key"),
         "--tlscacert", p("ca.pem"), "-l", log],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for("the TLS server", lambda: "Server is ready" in text(log))
        url = "tls://127.0.0.1:%d" % port
        tls = "ca=%s,cert=%s,key=%s" % (p("ca.pem"), p("client.pem"), p("client.key"))
        rc, out, err = run("--cluster", url, "--node", "secure", "--cluster-tls", tls,
                           "-e", 'print(require("actor").node())')
        assert rc == 0 and out == "secure\t1\n", (rc, out, err)
        rc, out, err = run("--cluster", url, "--node", "nocert", "--cluster-tls",
                           "ca=" + p("ca.pem"), "-e", "")
        assert rc == 1 and "cannot reach" in err, (rc, out, err)
    finally:
        server.terminate()
        server.wait(WAIT)


def test_stop_while_nats_away(dir, nats):
    a = Node(dir, nats, "A", LOAD_SERVER, "t6")
    try:
        a.expect("ready")
        nats.kill()
        wait_for("A to see the drop", lambda: "connection to" in text(a.log), 10)
        start = time.monotonic()
        a.proc.send_signal(signal.SIGTERM)
        assert a.wait() == 0, text(a.log)
        took = time.monotonic() - start
        assert took < 2.0, "a stop with NATS away took %.2f s" % took
    finally:
        a.kill()
        nats.start()


def main():
    failed = 0
    with tempfile.TemporaryDirectory(prefix="cluster-") as tmp:
        setup_dir(tmp)
        nats = Nats(tmp)
        try:
            for name, fn in list(globals().items()):
                if not name.startswith("test_"):
                    continue
                start = time.monotonic()
                try:
                    fn(tmp, nats)
                    print("ok", name, "(%.1f s)" % (time.monotonic() - start))
                except Exception as e:  # report every test, then fail
                    failed += 1
                    print("FAILED", name, repr(e)[:3000])
                sys.stdout.flush()
        finally:
            nats.stop()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
