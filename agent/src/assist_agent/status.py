"""What the customer sees in the agent's terminal: who is connected, for how long, with which scopes, how to end.

Text from outside the agent (a consultant's name, a close reason, anything the gateway sends) passes
`terminal_text.printable` before it reaches the terminal.
"""

from __future__ import annotations

import sys
import time

from .platforms.keys import HOTKEY_HELP
from .terminal_text import OUTSIDE_TEXT_LIMIT, printable


def describe(*, consultant: str | None, connected_since: float | None, scopes, now: float,
             state: str = "connected") -> str:
    scope_text = printable(" + ".join(sorted(scopes)) or "none")
    who = printable(consultant) if consultant else "no consultant yet"
    if connected_since is None:
        elapsed = "--:--:--"
    else:
        seconds = int(max(0.0, now - connected_since))
        elapsed = f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    return (f"[{printable(state)}] consultant: {who} | time: {elapsed} | allowed: {scope_text}"
            f" | to end now: {HOTKEY_HELP}")


class StatusLine:
    """On a terminal, one line rewritten in place; otherwise one line per change (logs stay readable)."""

    def __init__(self, stream=None) -> None:
        self._stream = stream or sys.stdout
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._last_plain = ""

    def show(self, *, consultant, connected_since, scopes, state: str) -> None:
        line = describe(consultant=consultant, connected_since=connected_since, scopes=scopes,
                        now=time.monotonic(), state=state)
        if self._tty:
            self._stream.write("\r\x1b[2K" + line)
            self._stream.flush()
            return
        plain = describe(consultant=consultant, connected_since=None, scopes=scopes, now=0, state=state)
        if plain != self._last_plain:  # the clock alone does not earn a new line
            self._last_plain = plain
            self._stream.write(plain + "\n")
            self._stream.flush()

    def say(self, text: str) -> None:
        text = printable(text, limit=2 * OUTSIDE_TEXT_LIMIT)
        self._stream.write(("\r\x1b[2K" if self._tty else "") + text + "\n")
        self._stream.flush()
