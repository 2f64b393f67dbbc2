"""The customer's shell in a PTY (Linux, macOS). Output is read on the event loop, never by a thread."""

from __future__ import annotations

import asyncio
import fcntl
import os
import pty
import signal
import struct
import subprocess
import termios
from collections.abc import Callable


def default_shell() -> list[str]:
    return [os.environ.get("SHELL") or "/bin/sh", "-i"]


def _become_session_leader() -> None:
    """In the child: a new session whose controlling terminal is the PTY (stdin), as a terminal emulator does.

    Without a controlling terminal an interactive shell has no job control and may never print a prompt.
    """
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyTerminal:
    def __init__(self, *, on_output: Callable[[bytes], None], on_exit: Callable[[], None], cols: int, rows: int,
                 command: list[str] | None = None) -> None:
        self._on_output = on_output
        self._on_exit = on_exit
        self._master, slave = pty.openpty()
        self._resize_fd(self._master, cols, rows)
        env = {**os.environ, "TERM": os.environ.get("TERM", "xterm-256color")}
        # A session of its own: the shell gets the PTY as controlling terminal, and the kill switch can end the
        # whole process group (jobs the consultant started included) with one signal.
        self._process = subprocess.Popen(
            command or default_shell(), stdin=slave, stdout=slave, stderr=slave, preexec_fn=_become_session_leader,
            env=env, close_fds=True, cwd=os.path.expanduser("~"),
        )
        os.close(slave)
        os.set_blocking(self._master, False)
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self._master, self._readable)
        self._closed = False

    @property
    def pid(self) -> int:
        return self._process.pid

    def _readable(self) -> None:
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError:  # EIO: the shell exited and the slave side is gone
            data = b""
        if data:
            self._on_output(data)
            return
        self.close()
        self._on_exit()

    def write(self, data: bytes) -> None:
        if self._closed:
            return
        try:
            os.write(self._master, data)
        except (BlockingIOError, OSError):
            pass  # a full PTY buffer drops keystrokes rather than stalling the relay

    def resize(self, cols: int, rows: int) -> None:
        if not self._closed:
            self._resize_fd(self._master, cols, rows)

    @staticmethod
    def _resize_fd(fd: int, cols: int, rows: int) -> None:
        cols, rows = max(1, min(int(cols), 1000)), max(1, min(int(rows), 1000))
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def kill(self) -> None:
        """Thread- and signal-safe: stops the shell and everything it started, at once."""
        try:
            os.killpg(self._process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def close(self) -> None:
        """On the event loop: kill, stop reading, release the PTY."""
        if self._closed:
            return
        self._closed = True
        self.kill()
        self._loop.remove_reader(self._master)
        try:
            os.close(self._master)
        except OSError:
            pass
        try:
            self._process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
