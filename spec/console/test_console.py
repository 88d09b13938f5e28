#!/usr/bin/env python3
"""spec/console/test_console.py: a running host's console (troupe
--console PATH) reached by `troupe attach` through pipes and by `troupe
top` on a pseudo-terminal. Every wait is for the text expected, with a
deadline; every process is ended by the test."""
import os
import pty
import re
import select
import signal
import stat
import subprocess
import tempfile
import sys
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from rawterm import wait_raw  # noqa: E402

BIN = os.environ.get("TROUPE_BIN", "build/troupe")
DEADLINE = float(os.environ.get("TROUPE_CONSOLE_DEADLINE", "30"))

COUNTER = """return {
  version = %d,
  init = function() return { count = 0 } end,
  code_change = function(old) return { count = old.count } end,
  handlers = {
    incr = function(s, n) s.count = s.count + n; return s.count end,
    version = function() return %d end,
  },
}
"""

SCRIPT = r"""
local actor = require "actor"
package.path = (arg[0]:match("^(.*)/") or ".") .. "/?.lua;" .. package.path
counter = 42
worker = actor.spawn(function()
  while true do actor.receive() end
end)
-- a load: a pinger sends to the worker without end
actor.spawn(function()
  while true do
    for _ = 1, 200 do actor.send(worker, "tick") end
    actor.sleep(5)
  end
end)
-- a reloadable counter (console_counter.lua, next to this script) under
-- a steady stream of calls; a reply that does not go up is counted
counted = actor.spawn { module = "console_counter" }
failures = 0
actor.spawn(function()
  local prev = -1
  while true do
    local ok, n = pcall(actor.call, counted, "incr", 1)
    if not ok or n <= prev then failures = failures + 1 end
    prev = ok and n or prev
    actor.sleep(2)
  end
end)
print("ready")
io.stdout:flush()
actor.sleep(10 * 60 * 1000)
"""


class Host:
    """A troupe node of two hosts running SCRIPT (on host 0) with a
    console, until stop()."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.sock = os.path.join(self.dir.name, "console.sock")
        script = os.path.join(self.dir.name, "host.lua")
        with open(script, "w") as f:
            f.write(SCRIPT)
        self.write_counter(COUNTER % (1, 1))
        self.proc = subprocess.Popen(
            [BIN, "--threads", "2", "--console", self.sock, script],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        end = time.monotonic() + DEADLINE
        r, _, _ = select.select([self.proc.stdout], [], [], DEADLINE)
        assert r and self.proc.stdout.readline() == b"ready\n", "host not ready"
        while not os.path.exists(self.sock):
            assert time.monotonic() < end, "no socket"
            time.sleep(0.01)

    def write_counter(self, src):
        with open(os.path.join(self.dir.name, "console_counter.lua"), "w") as f:
            f.write(src)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        self.dir.cleanup()


def attach(sock, text):
    r = subprocess.run([BIN, "attach", sock], input=text.encode(),
                       capture_output=True, timeout=DEADLINE)
    return r.returncode, r.stdout.decode()


def exit_code(pid, fd, why):
    """Waits for pid, on the pseudo-terminal fd, to end, reading what it
    writes meanwhile (only what select found: a read would block); returns
    its exit code, or raises AssertionError(why) past the deadline."""
    end = time.monotonic() + DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > end:
            raise AssertionError(why)
        r, _, _ = select.select([fd], [], [], 0.05)
        try:
            if r:
                os.read(fd, 4096)
        except OSError:
            pass


class Console(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = Host()

    @classmethod
    def tearDownClass(cls):
        cls.host.stop()

    def test_mode_0600(self):
        st = os.stat(self.host.sock)
        self.assertTrue(stat.S_ISSOCK(st.st_mode))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)

    def test_sees_the_hosts_state(self):
        rc, out = attach(self.host.sock,
                         'counter\nprint("n", counter + 1)\n'
                         'actor.info(worker).status\n'
                         'for i = 1, 2 do\nprint(i)\nend\n'
                         'error("boom")\nstill = true\n')
        self.assertEqual(rc, 0)
        lines = out.splitlines()
        self.assertIn("console", lines[0])
        self.assertEqual(lines[1], "42")
        self.assertEqual(lines[2], "n\t43")
        self.assertIn(lines[3], ("waiting", "ready", "running"))
        self.assertEqual(lines[4:6], ["1", "2"])
        self.assertIn("boom", out)
        # a global set at the console is the host's: a second one sees it
        rc, out = attach(self.host.sock, "still\n")
        self.assertEqual(out.splitlines()[1], "true")

    def test_reload(self):
        def ask(line):
            rc, out = attach(self.host.sock, line + "\n")
            self.assertEqual(rc, 0, out)
            return out.splitlines()[1]
        before = int(ask("actor.call(counted, 'incr', 0)"))
        self.host.write_counter("return {")  # a syntax error: refused
        self.assertIn("console_counter", ask("actor.reload('console_counter')"))
        self.assertEqual(ask("actor.call(counted, 'version')"), "1")
        self.host.write_counter(COUNTER % (2, 2))
        self.assertEqual(ask("actor.reload('console_counter')"), "2")
        self.assertEqual(ask("actor.call(counted, 'version')"), "2")
        # the count went on through both, and no call failed or went back
        self.assertGreater(int(ask("actor.call(counted, 'incr', 0)")), before)
        self.assertEqual(ask("failures"), "0")

    def session(self, a, lines):
        """Types lines into attach process a, whose second line names the
        session's pid, and waits for that pid; returns the deadline."""
        a.stdin.write(lines)
        a.stdin.flush()
        got, end = b"", time.monotonic() + DEADLINE
        while b"<pid" not in got.split(b"\n", 1)[-1]:
            left = end - time.monotonic()
            self.assertGreater(left, 0, got)
            r, _, _ = select.select([a.stdout], [], [], left)
            if r:
                chunk = os.read(a.stdout.fileno(), 4096)
                self.assertTrue(chunk, got)
                got += chunk
        return end

    def test_two_at_once(self):
        a = subprocess.Popen([BIN, "attach", self.host.sock],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            self.session(a, b"first = actor.self()\nfirst\n")
            # while a is open, b runs and sees a's session
            rc, out = attach(self.host.sock,
                             "actor.info(first) ~= nil, actor.self() ~= first\n")
            self.assertEqual(rc, 0)
            self.assertEqual(out.splitlines()[1], "true\ttrue")
            a.stdin.close()
            self.assertEqual(a.wait(DEADLINE), 0)
        finally:
            if not a.stdin.closed:
                a.stdin.close()
            if a.poll() is None:
                a.kill()
                a.wait()
            a.stdout.close()

    def test_runaway_ends_with_its_client(self):
        a = subprocess.Popen([BIN, "attach", self.host.sock],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        try:
            end = self.session(a, b"runaway = actor.self()\nrunaway\nwhile true do end\n")
            # busy in its loop (the host's clock suspends it, others run)
            while True:
                rc, out = attach(self.host.sock, "actor.info(runaway).status\n")
                if out.splitlines()[1:2] != ["waiting"]:
                    break
                self.assertLess(time.monotonic(), end, out)
                time.sleep(0.05)
        finally:
            a.kill()
            a.wait()
            a.stdin.close()
            a.stdout.close()
        # the host goes on, and the session is ended once its client left
        end = time.monotonic() + DEADLINE
        while True:
            rc, out = attach(self.host.sock, "runaway ~= nil and actor.info(runaway) == nil\n")
            if out.splitlines()[1:2] == ["true"]:
                break
            self.assertLess(time.monotonic(), end, out)
            time.sleep(0.05)

    def test_prompts_on_a_terminal(self):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BIN, [BIN, "attach", self.host.sock])
        out = b""

        def expect(text):
            nonlocal out
            end = time.monotonic() + DEADLINE
            while text not in out:
                left = end - time.monotonic()
                self.assertGreater(left, 0, out)
                r, _, _ = select.select([fd], [], [], left)
                if r:
                    out += os.read(fd, 4096)
            out = out[out.index(text) + len(text):]

        try:
            expect(b"> ")
            os.write(fd, b"if counter then\r")
            expect(b">> ")
            os.write(fd, b"return counter * 2 end\r")
            expect(b"84")
            expect(b"> ")
            # Ctrl-D leaves, typed once the terminal is raw (libedit's
            # prompt comes first: in cooked mode a lone Ctrl-D is lost)
            self.assertTrue(wait_raw(pid, time.monotonic() + DEADLINE))
            os.write(fd, b"\x04")
            self.assertEqual(exit_code(pid, fd, "attach did not end"), 0)
            pid = 0
        finally:
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)

    def test_no_such_socket(self):
        rc, _ = attach(os.path.join(self.host.dir.name, "none.sock"), "1\n")
        self.assertEqual(rc, 1)

    def test_top(self):
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(BIN, [BIN, "top", self.host.sock])
        out = b""
        try:
            end = time.monotonic() + DEADLINE
            # the second frame has rates; it is whole once the third begins
            while out.count(b"\x1b[H\x1b[2J") < 3:
                left = end - time.monotonic()
                self.assertGreater(left, 0, out[-400:])
                r, _, _ = select.select([fd], [], [], left)
                if r:
                    out += os.read(fd, 4096)
            frame = out.split(b"\x1b[H\x1b[2J")[-2].decode()
            lines = frame.replace("\r", "").splitlines()
            self.assertTrue(all(len(l) <= 79 for l in lines), lines)
            m = re.search(r"hosts (\d+)\s+actors (\d+)\s+msgs/s (\d+)", lines[0])
            self.assertTrue(m, lines[0])
            self.assertEqual(int(m.group(1)), 2)
            self.assertGreater(int(m.group(3)), 0)
            self.assertTrue(lines[2].startswith("PID"), lines)
            row = re.compile(r"^(<pid [^>]*>)\s+(\d+)\s+(.*?)\s+([\d.]+)\s+(\d+)"
                             r"\s+(\S+)\s+(\d+)\s+(\S*)\s*$")
            rows = [row.match(l) for l in lines[3:] if l.strip()]
            self.assertTrue(all(rows), lines)
            rows = [r.groups() for r in rows]
            self.assertTrue(rows)
            # the busiest first: the worker, handling the pinger's ticks
            self.assertGreater(float(rows[0][3]), 0)
            # the node's actors: host 1's spawner among them
            self.assertIn(("1", "troupe.spawner.1"),
                          [(r[1], r[2]) for r in rows], lines)
            os.write(fd, b"q")
            self.assertEqual(exit_code(pid, fd, "top did not quit"), 0)
            pid = 0
        finally:
            if pid:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            os.close(fd)


class NoConsole(unittest.TestCase):
    def test_off_by_default(self):
        r = subprocess.run([BIN, "--threads", "1", "-e", "return"],
                           capture_output=True, timeout=DEADLINE)
        self.assertEqual(r.returncode, 0)
        h = subprocess.run([BIN, "--help"], capture_output=True, timeout=DEADLINE)
        self.assertIn(b"--console PATH", h.stdout)
        self.assertIn(b"troupe attach PATH", h.stdout)


    def test_a_bad_path_fails_at_once(self):
        with tempfile.TemporaryDirectory() as d:
            plain = os.path.join(d, "plain")
            open(plain, "w").close()
            for path in (plain, os.path.join(d, "none", "c.sock")):
                r = subprocess.run([BIN, "--threads", "1", "--console", path,
                                    "-e", "print('ran')"],
                                   capture_output=True, timeout=DEADLINE)
                self.assertEqual(r.returncode, 1)
                self.assertIn(b"--console", r.stderr)
                self.assertNotIn(b"ran", r.stdout)


if __name__ == "__main__":
    unittest.main()
