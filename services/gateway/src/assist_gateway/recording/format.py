"""The stored forms of a recording (issue #19), encoded and decoded; pure: no I/O.

A recording is kept as objects named `<session_id>/<part_id>/<stream>/<seq:06d>` (`object_name`): a *part* is one
consultant connection (`part_id` = `<epoch_ms>-<8 hex>`), each of its three streams written in numbered segments.
Every time is ABSOLUTE (unix seconds, a float), so that parts written by several replicas merge by time.

- terminal: binary records, `>d` (t) `B` (the asciicast v2 event code: `o` the agent's terminal output, `i` the
  consultant's keystrokes, `r` the console's terminal size) `I` (length) and the event's data in UTF-8 (for `r`,
  `COLSxROWS`). Read back as `TerminalLine`s, written out as asciicast v2 by `asciicast`. Binary rather than the
  asciicast's JSON lines because a recorder writes every byte a terminal shows, off the relay's path but on its
  event loop: escaping it as JSON costs more than relaying it (docs/benchmarks.md, "Recording"); a download is rare.
- screen: binary records of the same form, `>d` (t) `B` (channel: 2 the agent's screen, 6 the customer's browser
  share) `I` (length) and the channel's message without its channel byte (docs/protocol.md, "Screen updates").
- events: UTF-8 JSON lines `{"at": t, "type": ..., ...}` (EVENT_TYPES).

`asciicast` builds the downloadable asciicast v2 file (https://docs.asciinema.org/manual/asciicast/v2/) from
terminal lines.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Iterable, Iterator
from typing import NamedTuple

TERMINAL, SCREEN, EVENTS = "terminal", "screen", "events"
STREAMS = (TERMINAL, SCREEN, EVENTS)

OUTPUT, INPUT, RESIZE = "o", "i", "r"
TERMINAL_CODES = (OUTPUT, INPUT, RESIZE)

AGENT_SCREEN, BROWSER_SCREEN = 2, 6
SCREEN_CHANNELS = (AGENT_SCREEN, BROWSER_SCREEN)

EVENT_TYPES = frozenset({
    "recording_started",  # {part, replica}: a part begins
    "scopes",  # {scopes}: at a part's start, and whenever the consultant is told the scopes
    "scope_request",  # {request_id, scopes, reason, status}
    "chat",  # {role, author, text}
    "file",  # {transfer_id, direction, name, size, sha256, status}
    "share",  # {active}: the customer's browser share began or ended
    "peer",  # {peer, joined}
    "observers",  # {observers}
    "monitor",  # {monitor, width, height}: the agent shows another monitor
    "gap",  # {dropped}: items the recorder could not keep up with
    "end",  # {reason}: the session ended while the consultant was connected
    "part_end",  # {reason}: the consultant's connection ended, the session did not
})

DEFAULT_WIDTH, DEFAULT_HEIGHT = 80, 24
_SIZE_MAX = 10_000  # columns or rows: anything larger is no terminal

_RECORD_HEADER = struct.Struct(">dBI")  # a terminal or screen record's: time, code or channel, length
RECORD_HEADER_BYTES = SCREEN_HEADER_BYTES = _RECORD_HEADER.size  # 13
_CODE_BYTES = {code: ord(code) for code in TERMINAL_CODES}
_CODES = {byte: code for code, byte in _CODE_BYTES.items()}

_PART_ID = re.compile(r"[0-9]{1,16}-[0-9a-f]{8}")
_SESSION_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SEQ = re.compile(r"[0-9]{6,12}")
_COMPACT = (",", ":")


class TerminalLine(NamedTuple):
    at: float
    code: str  # OUTPUT, INPUT or RESIZE
    data: str


class ScreenRecord(NamedTuple):
    at: float
    channel: int  # AGENT_SCREEN or BROWSER_SCREEN
    message: bytes  # the channel's message without its channel byte: kind 0, 1 or 2 and its fields


class ObjectName(NamedTuple):
    session_id: str
    part_id: str
    stream: str
    seq: int


# --- times ----------------------------------------------------------------------------------------------------------

def _time(value) -> float:
    """A time as stored: a finite number, to the microsecond."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"not a time: {value!r}")
    return round(float(value), 6)


def _is_time(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


# --- object names ---------------------------------------------------------------------------------------------------

def part_id(started_at: float, suffix: str) -> str:
    """A part's id: its start in unix milliseconds and 8 hex digits (random, chosen by the recorder)."""
    identifier = f"{int(_time(started_at) * 1000)}-{suffix}"
    if not _PART_ID.fullmatch(identifier):
        raise ValueError(f"not a part id: {identifier!r}")
    return identifier


def object_name(session_id: str, part: str, stream: str, seq: int) -> str:
    name = f"{session_id}/{part}/{stream}/{seq:06d}"
    if parse_object_name(name) is None:
        raise ValueError(f"not an object name: {name!r}")
    return name


def parse_object_name(name: str) -> ObjectName | None:
    """The parts of a recording's object name, or None for anything else."""
    pieces = name.split("/")
    if len(pieces) != 4:
        return None
    session_id, part, stream, seq = pieces
    if not (_SESSION_ID.fullmatch(session_id) and _PART_ID.fullmatch(part) and stream in STREAMS
            and _SEQ.fullmatch(seq)):
        return None
    return ObjectName(session_id, part, stream, int(seq))


# --- terminal -------------------------------------------------------------------------------------------------------

def resize_data(cols: int, rows: int) -> str:
    """A resize event's data, `COLSxROWS`."""
    if parse_resize(f"{cols}x{rows}") != (cols, rows):
        raise ValueError(f"not a terminal size: {cols}x{rows}")
    return f"{cols}x{rows}"


def parse_resize(data: str) -> tuple[int, int] | None:
    """(cols, rows) of a resize event's `COLSxROWS`, or None."""
    matched = re.fullmatch(r"([0-9]{1,5})x([0-9]{1,5})", data)
    if matched is None:
        return None
    cols, rows = int(matched.group(1)), int(matched.group(2))
    return (cols, rows) if 0 < cols <= _SIZE_MAX and 0 < rows <= _SIZE_MAX else None


def _terminal_event(code: str, data: str) -> None:
    if code not in TERMINAL_CODES or not isinstance(data, str):
        raise ValueError(f"not a terminal event: {code!r}")
    if code == RESIZE and parse_resize(data) is None:
        raise ValueError(f"not a terminal size: {data!r}")


def terminal_line(at: float, code: str, data: str) -> str:
    """One event line of an asciicast v2 file, `[t, code, data]`, newline included (`asciicast` writes these)."""
    _terminal_event(code, data)
    return json.dumps([_time(at), code, data], ensure_ascii=False, separators=_COMPACT) + "\n"


def terminal_record_header(at: float, code: str, length: int) -> bytes:
    """The header of a terminal record whose data is `length` bytes of UTF-8 (the recorder writes the data after it:
    a frame's text is encoded once)."""
    if code not in _CODE_BYTES:
        raise ValueError(f"not a terminal event: {code!r}")
    return _RECORD_HEADER.pack(_time(at), _CODE_BYTES[code], length)


def terminal_record(at: float, code: str, data: str) -> bytes:
    """One terminal record as a segment holds it."""
    _terminal_event(code, data)
    encoded = data.encode()
    return terminal_record_header(at, code, len(encoded)) + encoded


def decode_terminal_lines(data: bytes) -> list[TerminalLine]:
    """The events of a terminal segment, in their order; ValueError at the first malformed or cut-short record."""
    lines = []
    for at, code_byte, payload, offset in _records(data):
        code = _CODES.get(code_byte)
        try:
            text = payload.decode("utf-8")
        except UnicodeDecodeError:
            code = None
        if code is None or (code == RESIZE and parse_resize(text) is None):
            raise ValueError(f"a malformed terminal record at byte {offset}")
        lines.append(TerminalLine(at, code, text))
    return lines


def _records(data: bytes) -> Iterator[tuple[float, int, bytes, int]]:
    """(time, code or channel, payload, offset) of each record of a terminal or screen segment."""
    view = memoryview(data)
    offset = 0
    while offset < len(view):
        if len(view) - offset < RECORD_HEADER_BYTES:
            raise ValueError(f"a record cut short at byte {offset}")
        at, kind, length = _RECORD_HEADER.unpack_from(view, offset)
        start = offset + RECORD_HEADER_BYTES
        if not math.isfinite(at) or start + length > len(view):
            raise ValueError(f"a malformed record at byte {offset}")
        yield at, kind, bytes(view[start:start + length]), offset
        offset = start + length


# --- screen ---------------------------------------------------------------------------------------------------------

def screen_record_header(at: float, channel: int, length: int) -> bytes:
    """The header of a screen record whose message is `length` bytes long."""
    if channel not in SCREEN_CHANNELS:
        raise ValueError(f"not a screen channel: {channel!r}")
    return _RECORD_HEADER.pack(_time(at), channel, length)


def screen_record(at: float, channel: int, message: bytes) -> bytes:
    """One screen record: the header, then the message (a channel's frame without its channel byte)."""
    return screen_record_header(at, channel, len(message)) + bytes(message)


def iter_screen_records(data: bytes) -> Iterator[ScreenRecord]:
    """The records of a screen segment, in their order; ValueError at the first malformed or cut-short one."""
    for at, channel, message, offset in _records(data):
        if channel not in SCREEN_CHANNELS:
            raise ValueError(f"a malformed screen record at byte {offset}")
        yield ScreenRecord(at, channel, message)


def decode_screen_records(data: bytes) -> list[ScreenRecord]:
    return list(iter_screen_records(data))


# --- events ---------------------------------------------------------------------------------------------------------

def event_line(at: float, type: str, **fields) -> str:  # noqa: A002 - the stored key is `type`
    """One event line, newline included: `{"at": t, "type": type, **fields}`."""
    if type not in EVENT_TYPES:
        raise ValueError(f"not an event type: {type!r}")
    return json.dumps({"at": _time(at), "type": type, **fields}, ensure_ascii=False, separators=_COMPACT) + "\n"


def decode_event_lines(data: bytes | str) -> list[dict]:
    """The events of an events segment, in their order (`at` a float); ValueError for anything malformed. A type
    this code does not know is kept: a newer replica may write one."""
    text = data.decode("utf-8") if isinstance(data, (bytes, bytearray, memoryview)) else data
    events = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as error:
            raise ValueError(f"event line {number} is not JSON") from error
        if not isinstance(value, dict) or not _is_time(value.get("at")) or not isinstance(value.get("type"), str):
            raise ValueError(f"event line {number} is not an event")
        value["at"] = float(value["at"])
        events.append(value)
    return events


# --- the downloadable file ------------------------------------------------------------------------------------------

def terminal_size(lines: Iterable[TerminalLine]) -> tuple[int, int]:
    """The terminal's size for a player's start (in time order): the last resize before the first output; when the
    output came first (the shell's prompt, before the console said its size), the first resize; else 80×24."""
    size, output_seen = None, False
    for line in sorted(lines, key=lambda line: line.at):
        if line.code == OUTPUT:
            if size is not None:
                break
            output_seen = True
        elif line.code == RESIZE and (resized := parse_resize(line.data)) is not None:
            size = resized
            if output_seen:
                break
    return size or (DEFAULT_WIDTH, DEFAULT_HEIGHT)


def asciicast(terminal_lines: Iterable[TerminalLine], started_at: float, *, title: str | None = None) -> str:
    """The asciicast v2 file of a recording's terminal: a header (`width`×`height` from `terminal_size`,
    `timestamp` the recording's start), then each line with its time relative to `started_at` (never negative), in
    time order."""
    lines = sorted(terminal_lines, key=lambda line: line.at)
    width, height = terminal_size(lines)
    header = {"version": 2, "width": width, "height": height, "timestamp": int(_time(started_at))}
    if title is not None:
        header["title"] = title
    out = [json.dumps(header, ensure_ascii=False) + "\n"]
    out.extend(terminal_line(max(0.0, line.at - started_at), line.code, line.data) for line in lines)
    return "".join(out)
