#!/usr/bin/env python3
"""spec/repl/test_repl.py: troupe's REPL driven through a real
pseudo-terminal (line editing, history, completion, Ctrl-C, mail, -i) and
through pipes. Every wait is for the text expected, with a deadline."""
import os
import pty
import select
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from rawterm import wait_raw  # noqa: E402

BIN = os.environ.get("TROUPE_BIN", "build/troupe")
DEADLINE = float(os.environ.get("TROUPE_REPL_DEADLINE", "30"))


class Term:
    """troupe on a pseudo-terminal: send keys, wait for output."""

    def __init__(self, args=(), env=None):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execve(BIN, [BIN, "--threads", os.environ.get("TROUPE_REPL_THREADS", "1"), *args], env)
        self.out = b""

    def send(self, keys):
        """Writes keys, reading the echo meanwhile: a long line fills the
        terminal's buffers both ways."""
        data = keys.encode() if isinstance(keys, str) else keys
        end = time.monotonic() + DEADLINE
        while data:
            if time.monotonic() > end:
                raise AssertionError("cannot type: %r" % self.out[-200:])
            r, w, _ = select.select([self.fd], [self.fd], [], 1)
            if r:
                self.out += os.read(self.fd, 4096)
            if w:
                n = os.write(self.fd, data[:256])
                data = data[n:]

    def expect(self, text, start=None):
        """Waits for text in the output (after offset start, default: what
        the last expect took); returns the output up to its end."""
        text = text.encode()
        begin = self.mark if start is None else start
        end = time.monotonic() + DEADLINE
        while True:
            i = self.out.find(text, begin)
            if i >= 0:
                self.mark = i + len(text)
                return self.out[begin:self.mark].decode(errors="replace")
            left = end - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r in %r" % (text, self.out[begin:]))
            r, _, _ = select.select([self.fd], [], [], left)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise AssertionError("ended without %r: %r" % (text, self.out[begin:]))
                self.out += chunk

    mark = 0

    def eof(self):
        """Ctrl-D at the next prompt, once the terminal is raw (before, in
        cooked mode, a lone Ctrl-D is lost)."""
        self.expect("> ")
        if not wait_raw(self.pid, time.monotonic() + DEADLINE):
            raise AssertionError("the terminal stayed cooked: %r" % self.out[-200:])
        self.send("\x04")

    def wait(self):
        """Reads to the end and returns the exit status."""
        end = time.monotonic() + DEADLINE
        while time.monotonic() < end:
            r, _, _ = select.select([self.fd], [], [], end - time.monotonic())
            if not r:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.out += chunk
        while time.monotonic() < end:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                os.close(self.fd)
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.01)
        os.kill(self.pid, 9)
        raise AssertionError("troupe did not end: %r" % self.out[-400:])


class ReplTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.hist = os.path.join(self.tmp.name, "hist")
        self.env = dict(os.environ, HOME=self.tmp.name, TROUPE_HISTORY=self.hist,
                        TERM="xterm")

    def tearDown(self):
        self.tmp.cleanup()

    def start(self, *args):
        t = Term(args, self.env)
        return t

    def test_editing(self):
        t = self.start()
        t.expect("> ")
        # type, move left twice, insert: 1+2 becomes 10+2... "1+3" -> "12+3"
        t.send("=1+3\x1b[D\x1b[D2\r")
        t.expect("12+3")
        t.expect("15\r\n")
        t.eof()
        self.assertEqual(0, t.wait())

    def test_history_recalled_in_a_new_session(self):
        t = self.start()
        t.expect("> ")
        t.send("=6*7\r")
        t.expect("42\r\n")
        t.eof()
        self.assertEqual(0, t.wait())
        with open(self.hist) as f:
            self.assertIn("6*7", f.read())
        t = self.start()
        t.expect("> ")
        t.send("\x1b[A\r")
        t.expect("42\r\n")
        t.eof()
        self.assertEqual(0, t.wait())

    def test_history_in_home(self):
        del self.env["TROUPE_HISTORY"]
        t = self.start()
        t.expect("> ")
        t.send("=1\r")
        t.expect("1\r\n")
        t.eof()
        self.assertEqual(0, t.wait())
        self.assertTrue(os.path.exists(os.path.join(self.tmp.name, ".troupe_history")))

    def test_completion(self):
        t = self.start()
        t.expect("> ")
        t.send("=actor.sp\t")
        t.expect("awn")  # the rest of the word: =actor.spawn
        t.send("\r")
        t.expect("function")
        t.expect("> ")
        t.send("s = 'x'\r")
        t.expect("> ")
        t.send("=s:up\t")
        t.expect("per")
        t.send("()\r")
        t.expect("X\r\n")
        t.eof()
        self.assertEqual(0, t.wait())

    def test_ctrl_c_interrupts_a_loop_and_the_host_lives(self):
        t = self.start()
        t.expect("> ")
        t.send("e = actor.spawn('echo')\r")
        t.expect("> ")
        if not os.environ.get("TROUPE_REPL_NO_PREEMPT"):  # see CMakeLists.txt
            t.send("print('loop' .. 'ing') while true do end\r")
            t.expect("looping\r\n")
            t.send("\x03")
            t.expect("interrupted")
            t.expect("> ")
        t.send("=actor.call(e, 'x', 41)\r")
        t.expect("41\r\n")
        t.expect("> ")
        t.send("print('sleep' .. 'ing') actor.sleep(60000)\r")
        t.expect("sleeping\r\n")
        t.send("\x03")
        t.expect("interrupted")
        t.expect("> ")
        # a call that is never answered, alone and in a pcall loop
        t.send("mute = actor.spawn(function() actor.sleep(600000) end)\r")
        t.expect("> ")
        t.send("print('call' .. 'ing') actor.call_timeout(0, mute, 'x')\r")
        t.expect("calling\r\n")
        t.send("\x03")
        t.expect("interrupted")
        t.expect("> ")
        t.send("print('loop' .. 'ing') "
               "while true do pcall(actor.call_timeout, 0, mute, 'x') end\r")
        t.expect("looping\r\n")
        t.send("\x03")
        t.expect("interrupted")
        t.expect("> ")
        t.send("=actor.call(e, 'x', 42), actor.info(mute).status\r")
        t.expect("42\twaiting\r\n")
        t.expect("> ")
        t.send("print('wait' .. 'ing') actor.receive()\r")
        t.expect("waiting\r\n")
        t.send("\x03")
        t.expect("interrupted")
        t.expect("> ")
        t.send("abc\x03")  # at the prompt: the line is dropped
        t.expect("^C")
        t.expect("> ")
        t.send("=1\r")
        t.expect("1\r\n")
        t.eof()
        self.assertEqual(0, t.wait())

    def test_mail_is_kept_and_noticed(self):
        t = self.start()
        t.expect("> ")
        t.send("actor.send(actor.self(), 'hello', 7)\r")
        t.expect("1 message waiting")
        t.expect("> ")
        t.send("=actor.receive(0)\r")
        t.expect("hello\t7\r\n")
        t.eof()
        self.assertEqual(0, t.wait())

    def test_multi_line(self):
        t = self.start()
        t.expect("> ")
        t.send("function f(x)\r")
        t.expect(">> ")
        t.send("return x * 2\r")
        t.expect(">> ")
        t.send("end\r")
        t.expect("> ")
        t.send("=f(21)\r")
        t.expect("42\r\n")
        t.expect("> ")
        t.send("=" + "1+" * 3000 + "1\r")
        t.expect("3001\r\n")
        t.eof()
        self.assertEqual(0, t.wait())

    def test_results_printed_readably(self):
        t = self.start()
        t.expect("> ")
        t.send("={1, 'two', {x = {y = {z = {w = 1}}}}}, '', '12', actor.self()\r")
        t.expect('{1, "two", {x = {y = {z = {...}}}}}\t""\t"12"\t<pid ')
        t.eof()
        self.assertEqual(0, t.wait())

    def test_leaving_stops_every_actor(self):
        # the store's writer flushes as it stops: what was set is read back
        data = os.path.join(self.tmp.name, "data")
        for leave, value in (("os.exit()\r", "one"), ("\x04", "two")):
            t = self.start("--data-dir", data)
            t.expect("> ")
            t.send("kv = require 'actor.kv'\r")
            t.expect("> ")
            t.send("kv.set('k', '%s')\r" % value)
            t.expect("true\r\n> ")  # not the "> " of a log line's "<pid 7.1> "
            if leave == "\x04":  # a lone Ctrl-D, once the terminal is raw
                self.assertTrue(wait_raw(t.pid, time.monotonic() + DEADLINE))
            t.send(leave)
            self.assertEqual(0, t.wait())
            got = subprocess.run([BIN, "--data-dir", data], capture_output=True, text=True,
                                 input="=require('actor.kv').get('k')\n", timeout=DEADLINE)
            self.assertEqual((0, value + "\n"), (got.returncode, got.stdout))

    def test_killed_at_the_prompt(self):
        # the reader, waiting for a line, stops as the REPL's actor ends
        t = self.start("-e", "local a = require 'actor'; local me = a.self(); "
                       "a.spawn(function() a.sleep(200); a.kill(me) end); "
                       "require('actor.repl')()")
        self.assertEqual(1, t.wait())
        self.assertIn(b"root actor ended: killed", t.out)

    def test_interactive_script(self):
        script = os.path.join(self.tmp.name, "s.lua")
        with open(script, "w") as f:
            f.write("srv = actor.spawn(function() actor.serve { sq = function(x) return x * x end } end)\n")
        t = self.start("-i", script)
        t.expect("> ")
        t.send("=actor.call(srv, 'sq', 12)\r")
        t.expect("144\r\n")
        t.send("os.exit()\r")
        self.assertEqual(0, t.wait())

    def test_piped_input(self):
        ok = subprocess.run([BIN], input="print(1 + 1)\n", capture_output=True,
                            text=True, timeout=DEADLINE)
        self.assertEqual((0, "2\n"), (ok.returncode, ok.stdout))
        bad = subprocess.run([BIN], input="error('boom')\nprint('on')\n",
                             capture_output=True, text=True, timeout=DEADLINE)
        self.assertNotEqual(0, bad.returncode)
        self.assertIn("boom", bad.stdout)
        self.assertIn("on\n", bad.stdout)
        long = subprocess.run([BIN], input="=" + "1+" * 50000 + "1\n",
                              capture_output=True, text=True, timeout=DEADLINE)
        self.assertEqual((0, "50001\n"), (long.returncode, long.stdout))


if __name__ == "__main__":
    unittest.main(verbosity=2)
