"""spec/support/rawterm.py: waiting until a program on a pseudo-terminal
reads keys one by one. libedit writes its prompt before it turns the
terminal to raw mode; a Ctrl-D that arrives in between, in cooked mode,
ends no line and is lost. So a test types it once the terminal is raw."""
import os
import termios
import time


def wait_raw(pid, deadline):
    """Waits (until the monotonic time deadline) for the terminal on pid's
    stdin to leave canonical mode; True once it has."""
    path = os.readlink("/proc/%d/fd/0" % pid)
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        while time.monotonic() < deadline:
            if not termios.tcgetattr(fd)[3] & termios.ICANON:
                return True
            time.sleep(0.005)
        return False
    finally:
        os.close(fd)
