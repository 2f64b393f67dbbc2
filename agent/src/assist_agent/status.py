"""What the customer sees in the agent's terminal: the shared shell, live, and one status line under it.

On a terminal the window is split with a scroll region (DECSTBM): rows 1..N-1 show the shell the consultant
uses, mirrored as it runs (`mirror`), and row N holds the status line (who, for how long, what is allowed, how to
end, who else watches), redrawn in place and cut to the terminal's width so it never wraps; "to end press Q" always
stays visible.
Off a terminal (a pipe, a log) it writes one line per change of state and the mirrored output as it comes.

Text from outside the agent (a consultant's name, a close reason) passes `terminal_text.printable`; the shell's
output passes `ShellOutputFilter`, which keeps text, colours and in-line editing and drops every sequence that could
move the cursor out of the shell's rows, clear the screen, redefine the scroll region or retitle the window: the
consultant cannot overwrite the status line or hide what the shell printed behind a clear screen.
"""

from __future__ import annotations

import codecs
import os
import sys
import time
import unicodedata

from .messages import Messages
from .scopes import KNOWN as KNOWN_SCOPES
from .terminal_text import OUTSIDE_TEXT_LIMIT, printable

ESC = "\x1b"
SCOPE_ORDER = KNOWN_SCOPES
SAVE_CURSOR, RESTORE_CURSOR = ESC + "7", ESC + "8"


def display_width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 0 if unicodedata.combining(char) else 1
               for char in text)


def cut_to_width(text: str, width: int) -> str:
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for char in text:
        step = display_width(char)
        if used + step > width - 1:
            break
        out.append(char)
        used += step
    return "".join(out) + "…"


def cut_start_to_width(text: str, width: int) -> str:
    """The end of `text` in at most `width` columns, "…" before it when its start was cut (a prompt shows what was
    typed last)."""
    if display_width(text) <= width:
        return text
    out, used = [], 0
    for char in reversed(text):
        step = display_width(char)
        if used + step > width - 1:
            break
        out.append(char)
        used += step
    return "…" + "".join(reversed(out))


def wrap_to_width(text: str, width: int, indent: str = "  ") -> list[str]:
    """`text` (one line) word-wrapped to `width` columns, each line after the first indented with `indent`; a word
    longer than a line is split."""
    width = max(width, display_width(indent) + 10)
    lines: list[str] = []
    current = ""

    def room() -> int:
        return width - (display_width(indent) if lines else 0)

    for word in text.split():
        joined = f"{current} {word}" if current else word
        if display_width(joined) <= room():
            current = joined
            continue
        if current:
            lines.append(current)
            current = ""
        while display_width(word) > room():
            head = cut_to_width(word, room() + 1)[:-1] or word[0]  # the longest start that fits, without "…"
            lines.append(head)
            word = word[len(head):]
        current = word
    if current or not lines:
        lines.append(current)
    return [line if index == 0 else indent + line for index, line in enumerate(lines)]


def elapsed_text(connected_since: float | None, now: float) -> str:
    if connected_since is None:
        return "--:--:--"
    seconds = int(max(0.0, now - connected_since))
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def scope_names(scopes, say: Messages, *, long: bool = False) -> str:
    """The scopes in the customer's language, in a fixed order ("view, control"; long: "control (keyboard and
    mouse)"); an unknown one is shown printable, as it is."""
    ordered = sorted(scopes, key=lambda scope: (SCOPE_ORDER.index(scope) if scope in SCOPE_ORDER else 99, scope))
    names = [say.get(f"scope.long.{scope}", "") if long else "" for scope in ordered]
    return ", ".join(name or say.get(f"scope.{scope}", printable(scope)) for name, scope in zip(names, ordered))


def watched_text(observers, say: Messages, *, more: int = 0, width: int | None = None) -> str:
    """Who watches the session (supervisors, view only), "watched by: sam, ann (+3)", at most `width` columns: the
    names are cut, never the words before them ("" when not even those and a letter fit)."""
    names = ", ".join(printable(name) for name in observers) + (f" (+{more})" if more else "")
    key = "status.watched" if len(observers) + more == 1 else "status.watched.many"
    text = say(key, who=names)
    if width is None or display_width(text) <= width:
        return text
    label = say(key, who="")
    if display_width(label) + 2 > width:
        return ""
    return label + cut_to_width(names, width - display_width(label))


def describe(*, consultant: str | None, connected_since: float | None, scopes, now: float,
             state: str = "state.connected", messages: Messages | None = None, width: int | None = None,
             request=None, observers=(), more_observers: int = 0, chat: bool = False,
             monitor: tuple[int, int] | None = None, clipboard: bool = False, files: str | None = None,
             recorded: bool = False) -> str:
    """The status line, at most `width` columns wide: the end is cut, never the way to end the session. With
    `request` (the scopes of a step-up request waiting for the customer), the keys that answer it come just before
    the way to end; with `chat` (a chat message has come), the key that opens the message prompt, just before it.
    With `observers` (supervisors watching, and `more_observers` not named), who watches comes before those: it gets
    at least half of what is left, its names cut if need be, before the rest is cut. With `monitor` (the shared
    screen's number and how many there are) and more than one screen, what is allowed names the one seen ("may view
    screen 2/2, control"), first, so it is cut last. With `recorded` (the gateway records the session, #19), it says
    so just before the way to end: kept with it, not cut with the facts."""
    say = messages or Messages("en")
    scope_text = scope_names(scopes, say) or say("status.none")
    if monitor and monitor[1] > 1 and "view" in scopes:
        scope_text = ", ".join([say("status.monitor", index=monitor[0], count=monitor[1]),
                                *filter(None, [scope_names(set(scopes) - {"view"}, say)])])
    who = say("status.consultant", who=printable(consultant)) if consultant else say("status.nobody")
    state_text = say.get(state, printable(state))
    # Most important first: a narrow window loses the clock, then the end of the rest, never the way to end.
    facts = [f"[{state_text}] {who}", say("status.allowed", scopes=scope_text), elapsed_text(connected_since, now)]
    hotkey = say("status.hotkey")
    # `clipboard`: a consultant's request for the clipboard waits for S or D, offered with the step-up's keys.
    tail = " | ".join([*([say("status.request", scopes=scope_names(request, say))] if request else []),
                       *([say("status.clipboard")] if clipboard else []),
                       *([files] if files else []),  # a file waits for the customer: its keys ("file? A/F/R")
                       *([say("status.chat")] if chat else []),
                       *([say("status.recorded")] if recorded else []), hotkey])
    watched = observers or more_observers
    if width is None:
        return " | ".join([*facts, *([watched_text(observers, say, more=more_observers)] if watched else []), tail])
    room = width - display_width(tail) - 3
    if room < 8:  # a very narrow window: the way out first, then the keys that answer a request
        return tail if display_width(tail) <= width else cut_to_width(hotkey, width)
    if watched:
        # What the facts need without the clock, if they can have it; else at least half the room for who watches.
        needed = display_width(" | ".join(facts[:2]))
        watch = watched_text(observers, say, more=more_observers, width=max(room - needed - 3, room // 2))
        if not watch or room - display_width(watch) - 3 < 8:  # no room for both: who watches before the rest
            watch = watched_text(observers, say, more=more_observers, width=room)
            return f"{watch} | {tail}" if watch else tail
        tail = f"{watch} | {tail}"
        room -= display_width(watch) + 3
    for kept in (facts, facts[:2]):
        if display_width(" | ".join(kept)) <= room:
            return " | ".join([*kept, tail])
    return f"{cut_to_width(' | '.join(facts[:2]), room)} | {tail}"


def prompt_line(draft: str, messages: Messages | None = None, width: int | None = None,
                prompt_key: str = "chat.prompt") -> str:
    """The open chat prompt and the message typed so far, at most `width` columns: the end of a long message shows
    (its start cut, "…"); in a window too narrow for the prompt's words and ten characters, only the text."""
    say = messages or Messages("en")
    prompt, draft = say(prompt_key), printable(draft, limit=len(draft) + 1)
    if width is None:
        return prompt + draft
    room = width - display_width(prompt)
    if room < 10:
        prompt, room = "", width
    return prompt + cut_start_to_width(draft, room)


class ShellOutputFilter:
    """The shell's output, kept to what cannot leave the shell's rows: printable text, CR, LF, TAB, BS, colours
    (SGR), erase-in-line and cursor left/right. Other escape sequences are dropped whole, across chunk
    boundaries."""

    KEPT_CSI_FINALS = set("mKCD")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._state = "text"
        self._sequence = ""

    def feed(self, data: bytes) -> str:
        out: list[str] = []
        for char in self._decoder.decode(data):
            if self._state == "text":
                if char == ESC:
                    self._state = "escape"
                elif char == "\x9b":
                    self._state, self._sequence = "csi", ""
                elif char.isprintable() or char in "\n\r\t\b":
                    out.append(char)
            elif self._state == "escape":
                if char == "[":
                    self._state, self._sequence = "csi", ""
                elif char in "]PX^_":
                    self._state = "string"
                else:
                    self._state = "text"  # a two-character sequence (ESC 7, ESC c, ...): dropped
            elif self._state == "csi":
                if "\x40" <= char <= "\x7e":
                    params = self._sequence
                    if char in self.KEPT_CSI_FINALS and all(c.isdigit() or c == ";" for c in params):
                        out.append(f"{ESC}[{params}{char}")
                    self._state = "text"
                elif len(self._sequence) > 32 or not ("\x20" <= char <= "\x3f"):
                    self._state = "text"
                else:
                    self._sequence += char
            elif self._state == "string":  # OSC, DCS, ...: up to BEL or ESC \
                if char == "\x07":
                    self._state = "text"
                elif char == ESC:
                    self._state = "string-escape"
            elif self._state == "string-escape":
                self._state = "text" if char == "\\" else "string"
        return "".join(out)


class StatusLine:
    def __init__(self, stream=None, messages: Messages | None = None) -> None:
        self._stream = stream or sys.stdout
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self.messages = messages or Messages()
        self._last_plain = ""
        self._size: tuple[int, int] | None = None
        self._split = False
        self._filter = ShellOutputFilter()
        self._mirrored_anything = False

    # --- the layout ----------------------------------------------------------------------------------------------
    def _terminal_size(self) -> tuple[int, int]:
        try:
            size = os.get_terminal_size(self._stream.fileno())
            return max(size.columns, 10), max(size.lines, 3)
        except (AttributeError, OSError, ValueError):
            return 80, 24

    def _ensure_split(self) -> None:
        """The scroll region above the status row; set again whenever the window's size changes."""
        if not self._tty:
            return
        size = self._terminal_size()
        if self._split and size == self._size:
            return
        cols, rows = size
        if not self._split:
            # A free bottom row for the status line: a new line (the window scrolls if the cursor was on the last
            # row) and back up; what the window showed above stays where it was.
            self._stream.write(f"\n{ESC}[1A")
        self._stream.write(f"{SAVE_CURSOR}{ESC}[1;{rows - 1}r{RESTORE_CURSOR}")
        if self._size is not None and self._size[1] > rows:
            self._stream.write(f"{ESC}[{rows - 1};1H")  # the window shrank: keep the cursor in the shell's rows
        self._size, self._split = size, True

    def close(self) -> None:
        """Give the whole window back (the scroll region off) and leave the cursor on a fresh bottom line."""
        if self._tty and self._split:
            rows = self._size[1]
            self._stream.write(f"{ESC}[0m{ESC}[r{ESC}[{rows};1H{ESC}[2K")
            self._stream.flush()
            self._split = False

    # --- what is shown -------------------------------------------------------------------------------------------
    def show(self, *, consultant, connected_since, scopes, state: str, request=None, observers=(),
             more_observers: int = 0, chat: bool = False, draft: str | None = None,
             monitor: tuple[int, int] | None = None, clipboard: bool = False, files: str | None = None,
             prompt: str = "chat.prompt", recorded: bool = False) -> None:
        """The status line; `request`: the scopes of a step-up request waiting for the customer's Y or N;
        `observers`: the supervisors watching (and `more_observers` not named); `chat`: offer T. With `draft` (the
        customer is typing a chat message) the message prompt takes the status row's place until it closes."""
        if self._tty:
            self._ensure_split()
            cols, rows = self._size
            if draft is not None:  # the prompt, bold, and a block where the next letter goes
                line = f"{ESC}[1m{prompt_line(draft, self.messages, cols - 2, prompt)}{ESC}[0m{ESC}[7m {ESC}[0m"
            else:
                line = describe(consultant=consultant, connected_since=connected_since, scopes=scopes,
                                now=time.monotonic(), state=state, messages=self.messages, width=cols - 1,
                                request=request, observers=observers, more_observers=more_observers, chat=chat,
                                monitor=monitor, clipboard=clipboard, files=files, recorded=recorded)
                line = f"{ESC}[7m{line}{ESC}[0m"
            self._stream.write(f"{SAVE_CURSOR}{ESC}[{rows};1H{ESC}[0m{ESC}[2K{line}{RESTORE_CURSOR}")
            self._stream.flush()
            return
        if draft is not None:  # off a terminal: the prompt once, not each letter
            plain = self.messages(prompt).rstrip()
        else:
            plain = describe(consultant=consultant, connected_since=None, scopes=scopes, now=0, state=state,
                             messages=self.messages, request=request, observers=observers,
                             more_observers=more_observers, chat=chat, monitor=monitor, clipboard=clipboard,
                             files=files, recorded=recorded)
        if plain != self._last_plain:  # the clock alone does not earn a new line
            self._last_plain = plain
            if self._mirrored_anything:
                self._stream.write("\n")
                self._mirrored_anything = False
            self._stream.write(plain + "\n")
            self._stream.flush()

    def mirror(self, data: bytes) -> None:
        """The shared shell's output, shown to the customer as the consultant sees it."""
        text = self._filter.feed(data)
        if not text:
            return
        if self._tty:
            self._ensure_split()
        self._stream.write(text)
        self._stream.flush()
        self._mirrored_anything = not text.endswith("\n")

    def say(self, text: str, *, bold: bool = False, limit: int = 2 * OUTSIDE_TEXT_LIMIT) -> None:
        """A line of its own, in the shell's rows (or after the window was given back); `bold` on a terminal, for
        what waits for the customer's answer."""
        self._write(printable(text, limit=limit), bold=bold)

    def say_wrapped(self, text: str, *, limit: int = 2 * OUTSIDE_TEXT_LIMIT, indent: str = "  ") -> None:
        """Like `say`, for a long line (a chat message): on a terminal, word-wrapped to the window's width, the
        lines after the first indented; elsewhere one line."""
        text = printable(text, limit=limit)
        if self._tty:
            text = "\r\n".join(wrap_to_width(text, self._terminal_size()[0] - 1, indent))
        self._write(text)

    def _write(self, text: str, *, bold: bool = False) -> None:
        if self._tty and bold:
            text = f"{ESC}[1m{text}{ESC}[0m"
        if self._tty and self._split:
            self._stream.write(f"\r\n{ESC}[0m{text}\r\n")
        else:
            self._stream.write(("\r\x1b[2K" if self._tty else "\n" if self._mirrored_anything else "") + text + "\n")
        self._mirrored_anything = False
        self._stream.flush()
