"""The customer's keys, read from the agent's own terminal (never from the consultant's channels): the kill switch,
C, which takes `control` back while the session goes on, Y / N, which answer a consultant's step-up request
(the agent acts on them only while one is pending), T, which opens a one-line prompt for a chat message, and S / D,
which send the customer's clipboard text to the consultant who asked for it, or refuse (only while one asks).

While that prompt is open (`KeyWatcher.typing`) the keys are the message's: printable characters (Cyrillic too)
are added, Backspace deletes the last one, Enter sends (an empty message closes the prompt, nothing is sent), Esc
cancels. Q, C, Y, N, T, S and D do nothing else then; Ctrl-Q and Ctrl-C still end the session. Cursor and function
keys (escape sequences) are skipped whole, in both modes: the right arrow, ESC [ C, is not the C key.

On a POSIX terminal the agent puts stdin in cbreak mode: single keys arrive at once (as bytes: a letter of more than
one UTF-8 byte may come in two reads, the decoder keeps the first half) and Ctrl-C still raises SIGINT. On Windows,
msvcrt reads the console's keys. When stdin is not a terminal (a pipe, as in the tests), lines are read instead.
"""

from __future__ import annotations

import codecs
import os
import sys
import threading
from collections.abc import Callable

HOTKEYS = {"q", "Q", "\x11"}  # q, Q, or Ctrl-Q; Ctrl-C is SIGINT, handled by the caller
KILL_WHILE_TYPING = {"\x11"}  # Ctrl-Q ends the session even while a message is typed
CONTROL_KEYS = {"c", "C"}  # take `control` back; the session goes on
APPROVE_KEYS = {"y", "Y"}  # allow the pending step-up request
REFUSE_KEYS = {"n", "N"}  # refuse it
CHAT_KEYS = {"t", "T"}  # open the prompt for a chat message
# A consultant's request for the clipboard's text: keys of their own, so that a step-up request (Y/N) waiting at the
# same time is never answered by the key meant for the clipboard, or the other way round.
CLIPBOARD_SEND_KEYS = {"s", "S"}  # send the clipboard's text
CLIPBOARD_REFUSE_KEYS = {"d", "D"}  # refuse
# A file offered to the customer, or asked of them (#17): A saves (or sends) it, F opens a prompt for the folder to
# save it in (Enter saves there, Esc goes back to the question), R refuses it. Keys of their own, as the clipboard's.
FILE_KEYS = {"a", "A", "f", "F", "r", "R"}
ENTER_KEYS = {"\r", "\n"}
BACKSPACE_KEYS = {"\x7f", "\x08"}
ESC = "\x1b"
MESSAGE_LIMIT = 2000  # characters of one chat message, as the gateway accepts it
WINDOWS_PREFIXES = {"\x00", "\xe0"}  # msvcrt: a function or cursor key, its code follows


class KeyWatcher:
    def __init__(self, on_hotkey: Callable[[], None], on_control: Callable[[], None] = lambda: None, *,
                 on_approve: Callable[[], None] = lambda: None, on_refuse: Callable[[], None] = lambda: None,
                 on_chat: Callable[[str], None] | None = None,
                 on_draft: Callable[[str | None], None] = lambda draft: None,
                 on_clipboard_send: Callable[[], None] = lambda: None,
                 on_clipboard_refuse: Callable[[], None] = lambda: None,
                 on_file: Callable[[str], bool] = lambda key: False,
                 on_folder: Callable[[str], None] = lambda folder: None,
                 on_folder_draft: Callable[[str | None], None] = lambda draft: None) -> None:
        """`on_chat(text)`: the customer's message, stripped, 1..MESSAGE_LIMIT characters (without it, T does
        nothing); `on_draft(text)`: the prompt's text after each key while it is open, None once it closed."""
        self._on_hotkey = on_hotkey
        self._on_control = on_control
        self._on_approve = on_approve
        self._on_refuse = on_refuse
        self._on_chat = on_chat
        self._on_draft = on_draft
        self._on_clipboard_send = on_clipboard_send
        self._on_clipboard_refuse = on_clipboard_refuse
        # `on_file(key)`: A, F or R for a file; True when F opened the folder prompt (a file waits for a folder),
        # whose text goes to `on_folder` at Enter and, while typed, to `on_folder_draft` (None once it closed).
        self._on_file = on_file
        self._on_folder = on_folder
        self._on_folder_draft = on_folder_draft
        self.folder_prompt = False  # the open prompt is the folder's, not a chat message
        self.draft: str | None = None  # the message being typed, while the prompt is open
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._restore: Callable[[], None] | None = None
        self._thread = threading.Thread(target=self._run, name="kill-switch-keys", daemon=True)

    @property
    def typing(self) -> bool:
        return self.draft is not None

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
                key = msvcrt.getwch()
                if key in WINDOWS_PREFIXES:
                    msvcrt.getwch()  # an arrow or function key: neither a hotkey nor text
                    continue
                if self.on_key(key):
                    return
        if sys.stdin is None:
            return
        fd = sys.stdin.fileno()
        while True:
            try:
                data = os.read(fd, 64)
            except OSError:
                return
            if not data:
                return  # stdin closed (e.g. /dev/null): Ctrl-C and SIGTERM still end the session
            if self.feed(data):
                return

    def feed(self, data: bytes) -> bool:
        """Bytes read from the terminal, decoded as UTF-8 across reads; whether they ended the session."""
        return self.on_keys(self._decoder.decode(data))

    def on_keys(self, chunk: str) -> bool:
        """What one read brought, in the order typed; an escape sequence in it (a cursor or function key) is skipped
        whole, a lone ESC is the Esc key. Whether it ended the session (nothing more is read then)."""
        index = 0
        while index < len(chunk):
            key = chunk[index]
            index += 1
            if key == ESC and index < len(chunk):
                index = _skip_sequence(chunk, index)
                if self.draft is not None:
                    self._close_prompt()  # Alt+key, an arrow: the prompt is left as Esc would
                continue
            if self.on_key(key):
                return True
        return False

    def on_key(self, key: str) -> bool:
        """One key, in the order typed; whether it ended the session (nothing more is read then)."""
        if self.draft is not None:
            return self._edit(key)
        if key in CONTROL_KEYS:
            self._on_control()
        elif key in APPROVE_KEYS:
            self._on_approve()
        elif key in REFUSE_KEYS:
            self._on_refuse()
        elif key in CLIPBOARD_SEND_KEYS:
            self._on_clipboard_send()
        elif key in CLIPBOARD_REFUSE_KEYS:
            self._on_clipboard_refuse()
        elif key in CHAT_KEYS and self._on_chat is not None:
            self.draft = ""
            self._on_draft(self.draft)
        elif key in FILE_KEYS:
            if self._on_file(key):
                self.draft, self.folder_prompt = "", True
                self._on_folder_draft(self.draft)
        elif key in HOTKEYS:
            self._on_hotkey()
            return True
        return False

    def _edit(self, key: str) -> bool:
        """A key while the prompt is open: it belongs to the message (or ends the session: Ctrl-Q)."""
        if key in KILL_WHILE_TYPING:
            self._close_prompt()
            self._on_hotkey()
            return True
        if key in ENTER_KEYS:
            text, folder = self.draft.strip(), self.folder_prompt
            self._close_prompt()
            if text:
                (self._on_folder if folder else self._on_chat)(text)
            return False
        if key == ESC:
            self._close_prompt()
            return False
        if key in BACKSPACE_KEYS:
            if self.draft:
                self.draft = self.draft[:-1]
                self._drafted(self.draft)
            return False
        if key.isprintable() and len(self.draft) < MESSAGE_LIMIT:
            self.draft += key
            self._drafted(self.draft)
        return False  # any other control key, or past the limit: nothing

    def _drafted(self, draft: str | None) -> None:
        (self._on_folder_draft if self.folder_prompt else self._on_draft)(draft)

    def _close_prompt(self) -> None:
        self.draft = None
        self._drafted(None)
        self.folder_prompt = False


def _skip_sequence(chunk: str, index: int) -> int:
    """Past an escape sequence whose ESC came just before `index`: CSI (ESC [ … final), SS3 (ESC O x), or ESC and one
    character (Alt+key)."""
    lead = chunk[index]
    index += 1
    if lead == "[":
        while index < len(chunk) and not "\x40" <= chunk[index] <= "\x7e":
            index += 1
        return index + 1
    if lead == "O" and index < len(chunk):
        return index + 1
    return index
