"""The customer's keys, read from the agent's own terminal (never from the consultant's channels): the kill switch,
C, which takes `control` back while the session goes on, and Y / N, which answer a consultant's step-up request
(the agent acts on them only while one is pending).

On a POSIX terminal the agent puts stdin in cbreak mode: single keys arrive at once and Ctrl-C still raises
SIGINT. On Windows, msvcrt reads the console's keys. When stdin is not a terminal (a pipe, as in the tests),
lines are read instead.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable

HOTKEYS = {"q", "Q", "\x11"}  # q, Q, or Ctrl-Q; Ctrl-C is SIGINT, handled by the caller
CONTROL_KEYS = {"c", "C"}  # take `control` back; the session goes on
APPROVE_KEYS = {"y", "Y"}  # allow the pending step-up request
REFUSE_KEYS = {"n", "N"}  # refuse it


class KeyWatcher:
    def __init__(self, on_hotkey: Callable[[], None], on_control: Callable[[], None] = lambda: None, *,
                 on_approve: Callable[[], None] = lambda: None, on_refuse: Callable[[], None] = lambda: None) -> None:
        self._on_hotkey = on_hotkey
        self._on_control = on_control
        self._on_approve = on_approve
        self._on_refuse = on_refuse
        self._restore: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name="kill-switch-keys", daemon=True)

    def start(self) -> None:
        self._enter_cbreak()
        self._thread.start()

    def restore(self) -> None:
        if self._restore is not None:
            self._restore()
            self._restore = None

    def _enter_cbreak(self) -> None:
        if sys.platform == "win32" or not sys.stdin or not sys.stdin.isatty():
            return
        import termios
        import tty

        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        tty.setcbreak(fd)
        self._restore = lambda: termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def _run(self) -> None:
        if sys.platform == "win32":
            import msvcrt

            while True:
                if self.on_key(msvcrt.getwch()):
                    return
        if sys.stdin is None:
            return
        fd = sys.stdin.fileno()
        while True:
            try:
                chunk = os.read(fd, 64).decode("utf-8", "replace")
            except OSError:
                return
            if not chunk:
                return  # stdin closed (e.g. /dev/null): Ctrl-C and SIGTERM still end the session
            if any(self.on_key(char) for char in chunk):
                return

    def on_key(self, key: str) -> bool:
        """One key, in the order typed; whether it ended the session (nothing more is read then)."""
        if key in CONTROL_KEYS:
            self._on_control()
        elif key in APPROVE_KEYS:
            self._on_approve()
        elif key in REFUSE_KEYS:
            self._on_refuse()
        elif key in HOTKEYS:
            self._on_hotkey()
            return True
        return False
