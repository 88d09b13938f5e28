"""spec/support/redisserver.py: a real redis-server for the specs that need
one (spec/redis, spec/resp): on a free local port, in a folder of its own,
nothing saved; redis-cli to talk to it, and the polling wait with a
deadline that their waits use."""
import shutil
import signal
import socket
import subprocess
import tempfile
import time

SERVER = shutil.which("redis-server")
CLI = shutil.which("redis-cli")
WAIT = 10.0  # seconds any event may take on a busy machine


def wait_for(cond, what, timeout=WAIT):
    """cond()'s first true value, polled until timeout seconds pass."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.01)
    raise AssertionError("timed out waiting for " + what)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cli(port, *args, db=None):
    """redis-cli's answer to one command, as text."""
    cmd = [CLI, "-p", str(port)] + (["-n", str(db)] if db is not None else [])
    r = subprocess.run(cmd + list(args), capture_output=True, timeout=WAIT)
    return r.stdout.decode().rstrip("\n")


class RedisServer:
    """redis-server on a free port, in a folder of its own, nothing saved;
    started at once, and again by start() after kill()."""

    def __init__(self):
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix="redis-")
        self.start()

    def start(self):
        self.p = subprocess.Popen(
            [SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: self.p.poll() is not None or
                 cli(self.port, "PING") in ("PONG", "NOAUTH Authentication required."),
                 "redis-server to answer PING")
        assert self.p.poll() is None, "redis-server ended"

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(WAIT)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGCONT)  # if it was stopped
            self.p.kill()
            self.p.wait(WAIT)
        shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, db=0):
        return "redis://127.0.0.1:%d/%d" % (self.port, db)
