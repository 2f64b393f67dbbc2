"""Clipboard text between the consultant and the customer (issue #17), on channel 4 under the `clipboard` scope.

The console sends `{"type": "clipboard.put", "id", "text"}` (the consultant puts text into the customer's clipboard:
done at once and shown to the customer) and `{"type": "clipboard.get", "id"}` (the consultant asks for the
customer's clipboard text: sent only once the customer pressed S, refused with D). The agent answers
`clipboard.done` / `clipboard.failed` and `clipboard.text` / `clipboard.refused`, each with the request's `id` (and
a `reason`, one of REASONS, for the last two and `failed`).

The rules: text only (a JSON string of valid UTF-8), at most CLIPBOARD_MAX_CHARS characters either way (longer:
nothing is set or sent); control characters but newline and tab are dropped, and bidirectional controls with
them, before the text is set or sent (a clipboard pasted into a terminal must not carry escape sequences, nor a
command that reads otherwise than it runs). One `get` waits for the customer at a time; another meanwhile is
refused as `busy`; an unanswered one is refused after CLIPBOARD_ANSWER_SECONDS. Nothing is sent on channel 4 while
the consent lacks `clipboard` (taken back meanwhile: a waiting `get` is cancelled and the customer told).

The customer is shown each transfer: who, how many characters, the first line made safe. Before the customer
answers a `get` nothing of the clipboard is shown: the consultant may be watching this very window on the screen.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from . import clipboard as system_clipboard, framing
from .messages import Messages
from .terminal_text import _ESCAPE_SEQUENCE, OUTSIDE_TEXT_LIMIT, one_line, printable

log = logging.getLogger(__name__)

CLIPBOARD_MAX_CHARS = 65536  # characters (code points) of one transfer, either way
CLIPBOARD_ANSWER_SECONDS = 120.0  # a `get` the customer leaves unanswered is refused after this
CLIPBOARD_IO_SECONDS = 10.0  # the system's clipboard tools (xclip: a process or two) get this long, even when busy
TRANSFER_ID = re.compile(r"[A-Za-z0-9-]{1,36}")  # a uuid, echoed back: the answer stays small
FIRST_LINE_SHOWN = 60  # characters of the first line shown to the customer
LINES_SHOWN = 40  # lines of a put shown to copy by hand where there is no clipboard
# Why a transfer did not happen, as the console reads it (it has words for each).
REASONS = ("busy", "declined", "timeout", "no_clipboard", "no_text", "not_text", "too_long", "empty")

# Bidirectional controls (Trojan Source): a line that shows one command and runs another.
_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_DROPPED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f" + _BIDI + "]")
_LINE_ENDS = re.compile(r"\r\n?|[\u2028\u2029\x85]")


def clean(text: str) -> str:
    """`text` as it may be set or sent: escape sequences removed whole (the words around them stay, without "[2J"
    or "[201~" noise), line ends made newlines (CR LF, CR, the Unicode line and paragraph separators), every other
    C0 and C1 control, DEL and bidirectional control dropped; tabs stay."""
    return _DROPPED.sub("", _LINE_ENDS.sub("\n", _ESCAPE_SEQUENCE.sub("", text)))


def checked(value) -> tuple[str | None, str | None]:
    """(the text to set or send, None) or (None, a reason of REASONS): not a string or not encodable as UTF-8 (a
    lone surrogate), longer than CLIPBOARD_MAX_CHARS, or nothing left once cleaned."""
    if not isinstance(value, str):
        return None, "not_text"
    if len(value) > CLIPBOARD_MAX_CHARS:
        return None, "too_long"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return None, "not_text"
    text = clean(value)
    return (text, None) if text.strip() else (None, "empty")


def first_line(text: str, limit: int = FIRST_LINE_SHOWN) -> str:
    """The first line with something on it, as one safe quoted line; "…" when it was cut or more lines follow."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines:
        return '""'
    shown = one_line(lines[0], limit=limit)
    if len(lines) > 1 and not shown.endswith("…"):
        shown += " …"
    return f'"{shown}"'


def parse(payload: bytes) -> dict:
    """A channel-4 payload: a JSON object with a `type`, in UTF-8 (strictly: json.loads would take UTF-16 too)."""
    try:
        value = json.loads(payload.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise framing.FrameError("channel 4: not UTF-8 JSON") from error
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise framing.FrameError("channel 4: a JSON object with a `type` is expected")
    return value


@dataclass(frozen=True)
class Asked:
    """A consultant's `get`, shown to the customer and waiting for S or D."""

    transfer_id: str
    who: str


class ClipboardTransfers:
    """The agent's side of channel 4: `on_frame` from the channels (past the scope gate), `send_text` and `refuse`
    from the customer's keys, `scopes_changed` and `consultant_left` from the connection."""

    def __init__(self, *, send: Callable[[bytes], Awaitable[None]], status, messages: Messages,
                 consultant: Callable[[], str | None], allowed: Callable[[], bool],
                 on_change: Callable[[], None] = lambda: None, clipboard=system_clipboard) -> None:
        """`allowed()`: whether the consent includes `clipboard` now (and the channels are open): nothing is sent
        on channel 4 otherwise. `clipboard`: read/write/available, the system's (a test's own in unit tests)."""
        self._send = send
        self.status = status
        self.messages = messages
        self._consultant = consultant
        self._allowed = allowed
        self._on_change = on_change
        self.clipboard = clipboard
        self.asked: Asked | None = None  # the `get` waiting for the customer
        self._expiry: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._io = asyncio.Lock()  # one clipboard call at a time
        self._tasks: set[asyncio.Task] = set()

    @property
    def waiting(self) -> bool:
        return self.asked is not None

    # --- from the console ----------------------------------------------------------------------------------------
    async def on_frame(self, payload: bytes) -> None:
        self._loop = asyncio.get_running_loop()
        message = parse(payload)
        transfer_id, kind = message.get("id"), message["type"]
        if not isinstance(transfer_id, str) or not TRANSFER_ID.fullmatch(transfer_id):
            log.warning("dropped a %s without a well-formed id", printable(kind, limit=40))
            return
        if kind == "clipboard.put":
            await self._put(transfer_id, message.get("text"))
        elif kind == "clipboard.get":
            await self._get(transfer_id)
        else:
            log.warning("dropped an unknown clipboard message %s", printable(kind, limit=40))

    def _who(self) -> str:
        return printable(self._consultant() or "?", limit=OUTSIDE_TEXT_LIMIT)

    async def _put(self, transfer_id: str, value) -> None:
        say, who = self.messages, self._who()
        text, problem = checked(value)
        if problem is not None:
            log.warning("refused clipboard put %s: %s", transfer_id, problem)
            if problem == "too_long":
                self.status.say(say("clipboard.put_too_long", who=who, count=len(value), max=CLIPBOARD_MAX_CHARS))
            else:
                self.status.say(say("clipboard.put_not_text", who=who))
            await self._answer("clipboard.failed", transfer_id, reason=problem)
            return
        try:
            await self._call(self.clipboard.write, text)
        except (system_clipboard.ClipboardUnavailable, asyncio.TimeoutError, OSError) as error:
            reason = str(error) or "the clipboard did not answer in time"
            log.warning("clipboard put %s of %d characters not set: %s", transfer_id, len(text), reason)
            self.status.say(say("clipboard.put_unset", who=who, count=len(text)), bold=True)
            self._show_by_hand(text)
            await self._answer("clipboard.failed", transfer_id, reason="no_clipboard")
            return
        log.info("clipboard put %s: %d characters from %s set", transfer_id, len(text), who)
        self.status.say(say("clipboard.put", who=who, count=len(text), first=first_line(text)),
                        limit=OUTSIDE_TEXT_LIMIT + FIRST_LINE_SHOWN + 100)
        await self._answer("clipboard.done", transfer_id)

    def _show_by_hand(self, text: str) -> None:
        """The text of a put that could not be set, line by line and made safe, for the customer to copy."""
        lines = text.expandtabs(4).split("\n")
        for line in lines[:LINES_SHOWN]:
            self.status.say("  " + printable(line, limit=1000), limit=1010)
        if len(lines) > LINES_SHOWN:
            self.status.say(self.messages("clipboard.more_lines", count=len(lines) - LINES_SHOWN))

    async def _get(self, transfer_id: str) -> None:
        say, who = self.messages, self._who()
        if self.asked is not None:
            log.warning("refused clipboard get %s: get %s still waits for the customer", transfer_id,
                        self.asked.transfer_id)
            await self._answer("clipboard.refused", transfer_id, reason="busy")
            return
        try:
            here = await self._call(self.clipboard.available)
        except (asyncio.TimeoutError, OSError):
            here = False
        if not here:
            log.warning("refused clipboard get %s: no clipboard here", transfer_id)
            self.status.say(say("clipboard.none_here", who=who))
            await self._answer("clipboard.refused", transfer_id, reason="no_clipboard")
            return
        if self.asked is not None:  # another came while the clipboard was looked at
            await self._answer("clipboard.refused", transfer_id, reason="busy")
            return
        self.asked = Asked(transfer_id, who)
        self._expiry = asyncio.get_running_loop().call_later(CLIPBOARD_ANSWER_SECONDS, self._expire, transfer_id)
        log.info("clipboard get %s from %s: asking the customer", transfer_id, who)
        self.status.say(say("clipboard.asks", who=who), bold=True)
        self.status.say(say("clipboard.keys"), bold=True)
        self._on_change()

    # --- the customer's answer (S or D, from the key thread) ------------------------------------------------------
    def send_text(self) -> None:
        """The S key: send the clipboard's text to the consultant who asked (nothing when nobody asks)."""
        self._from_keys(True)

    def refuse(self) -> None:
        """The D key: refuse the waiting request (nothing when nobody asks)."""
        self._from_keys(False)

    def _from_keys(self, approve: bool) -> None:
        asked, loop = self.asked, self._loop
        if asked is None or loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._decide, asked.transfer_id, approve)

    def _decide(self, transfer_id: str, approve: bool) -> None:
        asked = self._take(transfer_id)
        if asked is None:
            return  # answered already (a second key), expired or cancelled meanwhile
        if not approve:
            log.info("clipboard get %s refused by the customer", transfer_id)
            self.status.say(self.messages("clipboard.declined"))
            self._spawn(self._answer("clipboard.refused", transfer_id, reason="declined"))
            return
        self._spawn(self._send_clipboard(asked))

    async def _send_clipboard(self, asked: Asked) -> None:
        say = self.messages
        try:
            value = await self._call(self.clipboard.read)
        except (system_clipboard.ClipboardUnavailable, asyncio.TimeoutError, OSError) as error:
            log.warning("clipboard get %s: cannot read the clipboard: %s", asked.transfer_id, error)
            self.status.say(say("clipboard.unreadable"))
            await self._answer("clipboard.refused", asked.transfer_id, reason="no_clipboard")
            return
        text, problem = checked(value) if value is not None else (None, "no_text")
        if problem is not None:
            log.info("clipboard get %s not sent: %s", asked.transfer_id, problem)
            if problem == "too_long":
                self.status.say(say("clipboard.too_long", count=len(value), max=CLIPBOARD_MAX_CHARS))
            else:
                self.status.say(say("clipboard.no_text"))
            await self._answer("clipboard.refused", asked.transfer_id, reason=problem)
            return
        if not await self._answer("clipboard.text", asked.transfer_id, text=text):
            self.status.say(say("clipboard.unsent"))
            return
        log.info("clipboard get %s: %d characters sent to %s", asked.transfer_id, len(text), asked.who)
        self.status.say(say("clipboard.sent", who=asked.who, count=len(text), first=first_line(text)),
                        limit=OUTSIDE_TEXT_LIMIT + FIRST_LINE_SHOWN + 100)

    # --- the connection's news ------------------------------------------------------------------------------------
    def scopes_changed(self) -> None:
        """On the loop, after the scopes narrowed: without `clipboard`, a waiting request is cancelled (nothing is
        sent on channel 4 any more, not even its refusal: the console hears the gateway's `scopes`)."""
        if self.asked is not None and not self._allowed():
            asked = self._take(self.asked.transfer_id)
            log.info("clipboard get %s cancelled: the consent no longer includes the clipboard", asked.transfer_id)
            self.status.say(self.messages("clipboard.withdrawn"))

    def consultant_left(self) -> None:
        """On the loop, at `peer_left`: the request of a consultant who left is cancelled (a new page asks anew)."""
        if self.asked is not None:
            asked = self._take(self.asked.transfer_id)
            log.info("clipboard get %s cancelled: the consultant left", asked.transfer_id)
            self.status.say(self.messages("clipboard.left"))

    def close(self) -> None:
        """The session is over: nothing waits any more."""
        if self.asked is not None:
            self._take(self.asked.transfer_id)

    def _expire(self, transfer_id: str) -> None:
        if self._take(transfer_id) is None:
            return
        log.info("clipboard get %s: no answer in %.0f s", transfer_id, CLIPBOARD_ANSWER_SECONDS)
        self.status.say(self.messages("clipboard.expired"))
        self._spawn(self._answer("clipboard.refused", transfer_id, reason="timeout"))

    def _take(self, transfer_id: str) -> Asked | None:
        """The waiting request if it is `transfer_id`, no longer waiting from now on."""
        asked = self.asked
        if asked is None or asked.transfer_id != transfer_id:
            return None
        self.asked = None
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._on_change()
        return asked

    # --- I/O ------------------------------------------------------------------------------------------------------
    async def _call(self, function, *args):
        """A clipboard call off the loop, one at a time, for at most CLIPBOARD_IO_SECONDS."""
        async with self._io:
            return await asyncio.wait_for(asyncio.to_thread(function, *args), timeout=CLIPBOARD_IO_SECONDS)

    async def _answer(self, kind: str, transfer_id: str, **fields) -> bool:
        """Whether the answer went out: never on channel 4 while the consent lacks `clipboard`."""
        if not self._allowed():
            log.warning("%s %s not sent: the consent no longer includes the clipboard", kind, transfer_id)
            return False
        await self._send(framing.encode_json(framing.CLIPBOARD, {"type": kind, "id": transfer_id, **fields}))
        return True

    def _spawn(self, work: Awaitable) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
