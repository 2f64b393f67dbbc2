"""What a part's recording keeps of each thing the consultant's endpoint passes (issue #19); pure: no I/O, no clock.

`PartCapture` takes what the recorder's taps queued (recorder.py), in order, each with its time, and fills one
pending segment per stream (format.py's forms):
- to the console: the agent's terminal output (channel 1, decoded as UTF-8 across frames), its screen (2) and the
  customer's browser share (6) as screen records, its `screen.selected` (0) as a `monitor` event, and files
  messages (5) as `file` events; nothing of the clipboard (4) or a file's bytes;
- from the console: keystrokes (1) as `i`, `resize` (0) as `r`, files messages (5) as `file` events; nothing of input
  events (3) or the clipboard (4);
- the gateway's control messages to the console: `chat`, `scopes`, `scope_request`, `share`, `peer_joined` /
  `peer_left` (`peer`) and `observers`, as events.
"""

from __future__ import annotations

import codecs
import json
from collections import OrderedDict

from ..domain import ending_in_close_reason
from ..file_messages import parse_message, transfer_id, valid_offer
from .format import (
    AGENT_SCREEN, BROWSER_SCREEN, EVENTS, INPUT, OUTPUT, RESIZE, SCREEN, TERMINAL, event_line, resize_data,
    screen_record_header, terminal_record_header,
)

CONTROL, TERMINAL_CHANNEL, FILES = 0, 1, 5
FILE_MESSAGE = 0
# Channels whose frames a part keeps, by direction: the taps drop the rest before queueing them (recorder.py).
KEPT_TO_CONSOLE = frozenset({CONTROL, TERMINAL_CHANNEL, AGENT_SCREEN, FILES, BROWSER_SCREEN})
KEPT_FROM_CONSOLE = frozenset({CONTROL, TERMINAL_CHANNEL, FILES})
_FILE_STATUSES = {"file.offer": "offered", "file.done": "done", "file.refuse": "refused", "file.failed": "failed",
                  "file.cancel": "cancelled"}
_TRANSFERS_KEPT = 256
_TEXT_MAX = 4000  # of a control message's text kept in an event (a chat message is at most 2000 characters)


def kept(data, *, to_console: bool) -> bool:
    """Whether a frame is worth queueing for the recorder at all: its channel is one it keeps, and it is no file
    chunk (files messages are, their data is not). Two byte tests."""
    if not data:
        return False
    channel = data[0]
    if channel == FILES:
        return len(data) > 1 and data[1] == FILE_MESSAGE
    return channel in (KEPT_TO_CONSOLE if to_console else KEPT_FROM_CONSOLE)


class Pending:
    """One stream's segment being filled: its pieces, their size, and the times of its first and last item."""

    def __init__(self, *, binary: bool) -> None:
        self.binary = binary
        self.pieces: list = []
        self.size = 0
        self.first_at: float | None = None
        self.last_at: float | None = None

    def add(self, at: float, piece) -> None:
        self.pieces.append(piece)
        self.size += len(piece)
        if self.first_at is None:
            self.first_at = at
        self.last_at = at

    def take(self) -> tuple[bytes, float, float] | None:
        """The segment's bytes and times, and an empty segment from then on; None when it is empty."""
        if not self.pieces:
            return None
        data = b"".join(self.pieces) if self.binary else "".join(self.pieces).encode()
        taken = data, self.first_at, self.last_at
        self.pieces, self.size, self.first_at, self.last_at = [], 0, None, None
        return taken


class PartCapture:
    """A part's pending segments, filled in the order things happened."""

    def __init__(self, *, part: str, replica: str, started_at: float, scopes) -> None:
        self.pending = {TERMINAL: Pending(binary=True), SCREEN: Pending(binary=True), EVENTS: Pending(binary=False)}
        self._output = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._input = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._transfers: OrderedDict[str, dict] = OrderedDict()
        self.event(started_at, "recording_started", part=part, replica=replica)
        self.event(started_at, "scopes", scopes=list(scopes))

    # --- what the taps queued ---------------------------------------------------------------------------------------
    def to_console(self, at: float, data: bytes) -> None:
        """A frame the console got (from the agent, or the customer's browser share on channel 6)."""
        channel = data[0] if data else None
        if channel == TERMINAL_CHANNEL:
            self._terminal(at, OUTPUT, self._output.decode(data[1:]))
        elif channel in (AGENT_SCREEN, BROWSER_SCREEN):
            message = memoryview(data)[1:]  # copied once, into the segment
            self.pending[SCREEN].add(at, screen_record_header(at, channel, len(message)))
            self.pending[SCREEN].add(at, message)
        elif channel == CONTROL:
            self._agent_control(at, data)
        elif channel == FILES:
            self._file(at, data, sender="agent")

    def from_console(self, at: float, data: bytes) -> None:
        """A frame the console sent that the relay forwarded."""
        channel = data[0] if data else None
        if channel == TERMINAL_CHANNEL:
            self._terminal(at, INPUT, self._input.decode(data[1:]))
        elif channel == CONTROL:
            self._console_control(at, data)
        elif channel == FILES:
            self._file(at, data, sender="consultant")

    def control(self, at: float, text: str) -> None:
        """A control message of the gateway to the console (a text frame)."""
        try:
            message = json.loads(text)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        kind = message.get("type")
        if kind == "chat" and isinstance(message.get("message"), dict):
            chat = message["message"]
            self.event(at, "chat", role=_text(chat.get("role")), author=_text(chat.get("author")),
                       text=_text(chat.get("text")))
        elif kind == "scopes" and _strings(message.get("scopes")):
            self.event(at, "scopes", scopes=message["scopes"])
        elif kind == "scope_request":
            self.event(at, "scope_request", request_id=_text(message.get("request_id")),
                       scopes=message["scopes"] if _strings(message.get("scopes")) else [],
                       reason=_text(message.get("reason")), status=_text(message.get("status")))
        elif kind == "share" and isinstance(message.get("active"), bool):
            self.event(at, "share", active=message["active"])
        elif kind in ("peer_joined", "peer_left") and isinstance(message.get("peer"), str):
            self.event(at, "peer", peer=_text(message["peer"]), joined=kind == "peer_joined")
        elif kind == "observers" and _strings(message.get("observers")):
            self.event(at, "observers", observers=message["observers"])

    def gap(self, at: float, dropped: int) -> None:
        self.event(at, "gap", dropped=dropped)

    def end(self, at: float, *, reason: str, final: bool) -> None:
        """The part ends: what the decoders held back, then `end` (the session ended) or `part_end`."""
        for decoder, code in ((self._output, OUTPUT), (self._input, INPUT)):
            self._terminal(at, code, decoder.decode(b"", final=True))
        if not final:
            self.event(at, "part_end", reason=_text(reason))
            return
        ending = ending_in_close_reason(reason)  # who ended it and why, as codes the pages put in words
        ended_by, end_reason = ending if ending is not None else (None, None)
        self.event(at, "end", reason=_text(reason), ended_by=ended_by, end_reason=end_reason)

    def event(self, at: float, kind: str, **fields) -> None:
        self.pending[EVENTS].add(at, event_line(at, kind, **fields))

    # --- the pieces -------------------------------------------------------------------------------------------------
    def _terminal(self, at: float, code: str, text: str) -> None:
        if text:
            encoded = text.encode()  # valid UTF-8 whatever the frame held: decoded with replacement characters
            self.pending[TERMINAL].add(at, terminal_record_header(at, code, len(encoded)))
            self.pending[TERMINAL].add(at, encoded)

    def _agent_control(self, at: float, data: bytes) -> None:
        if b"screen.selected" not in data:  # the agent's other control messages are not recorded: no parse
            return
        message = _json(data[1:])
        if message is None or message.get("type") != "screen.selected":
            return
        fields = {key: message.get(key) for key in ("monitor", "width", "height")}
        if all(_count(value) for value in fields.values()):
            self.event(at, "monitor", **fields)

    def _console_control(self, at: float, data: bytes) -> None:
        if b"resize" not in data:
            return
        message = _json(data[1:])
        if message is None or message.get("type") != "resize":
            return
        cols, rows = message.get("cols"), message.get("rows")
        if _count(cols) and _count(rows):
            try:
                self._terminal(at, RESIZE, resize_data(cols, rows))
            except ValueError:
                pass  # a size no terminal has: the console's business, not the recording's

    def _file(self, at: float, data: bytes, *, sender: str) -> None:
        message = parse_message(data)
        if message is None or message["type"] not in _FILE_STATUSES:
            return
        status = _FILE_STATUSES[message["type"]]
        if status == "offered":
            offer = valid_offer(message)
            if offer is None:
                return
            tid, name, size, sha256 = offer
            known = {"direction": "to_customer" if sender == "consultant" else "from_customer", "name": name,
                     "size": size, "sha256": sha256}
            self._transfers[tid] = known
            while len(self._transfers) > _TRANSFERS_KEPT:
                self._transfers.popitem(last=False)
        else:
            tid = transfer_id(message.get("id"))
            if tid is None:
                return
            size = message.get("size")
            known = self._transfers.get(tid) or {  # an offer before this part began: what the message says
                "direction": None, "name": None, "size": size if _count(size) else None,
                "sha256": message.get("sha256")}
        self.event(at, "file", transfer_id=tid, direction=known["direction"], name=_text(known["name"]),
                   size=known["size"], sha256=_text(known["sha256"], 64), status=status)


def _json(data) -> dict | None:
    try:
        message = json.loads(bytes(data))
    except (ValueError, UnicodeDecodeError):
        return None
    return message if isinstance(message, dict) else None


def _text(value, limit: int = _TEXT_MAX) -> str | None:
    return value[:limit] if isinstance(value, str) else None


def _strings(value) -> bool:
    return isinstance(value, list) and len(value) <= 100 and all(isinstance(item, str) for item in value)


def _count(value) -> bool:
    """A positive JSON integer (not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0
