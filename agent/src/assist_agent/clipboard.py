"""The customer's clipboard, text only: read it and write it, through pyperclip.

pyperclip picks what the system offers: xclip or xsel under X, wl-clipboard under Wayland, pbcopy/pbpaste on macOS,
the Windows clipboard API. Where there is none (no display, none of those tools), both calls raise
`ClipboardUnavailable`. Blocking calls (the X tools are processes): the agent runs them off its event loop.
"""

from __future__ import annotations

import threading
import time

import pyperclip


class ClipboardUnavailable(Exception):
    """This computer has no clipboard the agent can use, or it did not take the text."""


# xclip takes the selection in a process it forks, which tells the X server only when it first flushes: the text
# may be there a moment after `copy` returned.
SETTLE_SECONDS = 2.0
_lock = threading.Lock()
_mechanism: tuple | None = None  # pyperclip's (copy, paste) for this system, chosen once


def _copy_paste() -> tuple:
    global _mechanism
    with _lock:
        if _mechanism is None:
            _mechanism = pyperclip.determine_clipboard()
        return _mechanism


def read() -> str | None:
    """The clipboard's text; None when it holds none (empty, an image, bytes that are not UTF-8)."""
    _copy, paste = _copy_paste()
    try:
        text = paste()
    except UnicodeDecodeError:
        return None  # xclip and xsel hand over bytes: these were no UTF-8 text
    except pyperclip.PyperclipException as error:
        raise ClipboardUnavailable(str(error).splitlines()[0]) from error
    return text if isinstance(text, str) and text else None


def write(text: str) -> None:
    """Put `text` into the clipboard, then read it back (for up to SETTLE_SECONDS): a tool that failed quietly
    (xclip without a reachable display says so on stderr and nothing else) is not taken for a clipboard that holds
    the text."""
    copy, _paste = _copy_paste()
    try:
        copy(text)
    except pyperclip.PyperclipException as error:
        raise ClipboardUnavailable(str(error).splitlines()[0]) from error
    wanted = text.replace("\r\n", "\n")
    deadline = time.monotonic() + SETTLE_SECONDS
    while True:
        back = read()
        if back is not None and back.replace("\r\n", "\n") == wanted:
            return
        if time.monotonic() > deadline:
            raise ClipboardUnavailable("the clipboard did not take the text")
        time.sleep(0.05)  # a process of the system's is still taking the selection: looked at again shortly


def available() -> bool:
    """Whether this computer has a clipboard the agent can read (reading it here sends nothing anywhere)."""
    try:
        read()
    except ClipboardUnavailable:
        return False
    return True
