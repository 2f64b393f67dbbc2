"""The stored forms of a recording (issue #19, recording/format.py), as rules: every form decodes to what was encoded,
anything malformed is refused, and the asciicast file is asciinema's v2."""

from __future__ import annotations

import json
import math
import struct

import pytest

from assist_gateway.recording.format import (
    EVENT_TYPES, RECORD_HEADER_BYTES, SCREEN_HEADER_BYTES, ObjectName, ScreenRecord, TerminalLine, asciicast,
    decode_event_lines, decode_screen_records, decode_terminal_lines, event_line, object_name, parse_object_name,
    parse_resize, part_id, resize_data, screen_record, terminal_line, terminal_record, terminal_record_header,
    terminal_size,
)

SESSION = "1f0e3c9a-5b7d-4e2f-9a1b-0c2d3e4f5a6b"
PART = "1764547200123-0a1b2c3d"
T0 = 1764547200.123456


# --- object names ---------------------------------------------------------------------------------------------------

def test_a_part_id_is_its_start_in_milliseconds_and_its_suffix():
    assert part_id(T0, "0a1b2c3d") == PART
    assert part_id(0, "ffffffff") == "0-ffffffff"


@pytest.mark.parametrize("suffix", ["", "0a1b2c3", "0a1b2c3d4", "0A1B2C3D", "zzzzzzzz"])
def test_a_part_id_suffix_is_eight_lower_case_hex_digits(suffix):
    with pytest.raises(ValueError):
        part_id(T0, suffix)


@pytest.mark.parametrize("stream", ["terminal", "screen", "events"])
def test_an_object_name_reads_back(stream):
    name = object_name(SESSION, PART, stream, 7)
    assert name == f"{SESSION}/{PART}/{stream}/000007"
    assert parse_object_name(name) == ObjectName(SESSION, PART, stream, 7)


def test_object_names_of_a_stream_sort_in_segment_order_up_to_a_million_segments():
    names = [object_name(SESSION, PART, "terminal", seq) for seq in (0, 1, 9, 10, 99_999, 999_999)]
    assert sorted(names) == names
    assert parse_object_name(object_name(SESSION, PART, "terminal", 1_000_000)).seq == 1_000_000


@pytest.mark.parametrize("name", [
    "", f"{SESSION}/{PART}/terminal", f"{SESSION}/{PART}/terminal/000001/x", f"/{PART}/terminal/000001",
    f"{SESSION}/{PART}/video/000001", f"{SESSION}/{PART}/terminal/1", f"{SESSION}/{PART}/terminal/-00001",
    f"{SESSION}/part/terminal/000001", f"{SESSION}/{PART}/terminal/00000a", f"a.b/{PART}/terminal/000001",
    f"{'x' * 65}/{PART}/terminal/000001", f"../{PART}/terminal/000001",
])
def test_anything_else_is_no_object_name(name):
    assert parse_object_name(name) is None


def test_an_object_name_is_refused_for_bad_parts():
    with pytest.raises(ValueError):
        object_name("a/b", PART, "terminal", 1)
    with pytest.raises(ValueError):
        object_name(SESSION, PART, "video", 1)
    with pytest.raises(ValueError):
        object_name(SESSION, PART, "terminal", -1)


# --- terminal -------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "data"), [
    ("o", "$ ls\r\n"), ("o", "\x1b[1;32mзелено\x1b[0m 🎉"), ("o", ""), ("o", "\ufffd\x00\x7f\"\\\n"),
    ("i", "ls\r"), ("i", "\x03"), ("r", "120x40"), ("r", "1x1"), ("r", "10000x10000"),
])
def test_a_terminal_record_reads_back(code, data):
    record = terminal_record(T0, code, data)
    assert struct.unpack_from(">dBI", record) == (T0, ord(code), len(data.encode()))
    assert record[RECORD_HEADER_BYTES:] == data.encode()  # the text as UTF-8, not escaped
    assert decode_terminal_lines(record) == [TerminalLine(T0, code, data)]


def test_a_terminal_record_header_is_the_records_without_its_data():
    assert terminal_record_header(T0, "o", 5) + "ab€".encode() == terminal_record(T0, "o", "ab€")
    with pytest.raises(ValueError):
        terminal_record_header(T0, "x", 1)


@pytest.mark.parametrize(("code", "data"), [
    ("o", "$ ls\r\n"), ("o", "\x1b[1;32mзелено\x1b[0m 🎉"), ("i", "\x03"), ("r", "120x40"), ("o", "\"\\\n"),
])
def test_an_asciicast_event_line_is_asciinemas_json_form(code, data):
    line = terminal_line(T0, code, data)
    assert line.endswith("\n") and line.count("\n") == 1  # one line, whatever the text holds
    assert json.loads(line) == [T0, code, data]
    assert "\x1b" not in line and ("зелено" in line) == ("зелено" in data)  # escapes escaped, letters as UTF-8


def test_terminal_times_are_kept_to_the_microsecond():
    assert decode_terminal_lines(terminal_record(1.0000004, "o", "x"))[0].at == 1.0
    assert decode_terminal_lines(terminal_record(1.0000006, "o", "x"))[0].at == 1.000001


@pytest.mark.parametrize(("at", "code", "data"), [
    (T0, "x", "a"), (T0, "m", "marker"), (T0, "o", b"bytes"), (T0, "r", "80"), (T0, "r", "0x24"),
    (T0, "r", "80x0"), (T0, "r", "10001x24"), (T0, "r", " 80x24"), (math.nan, "o", "a"), (math.inf, "o", "a"),
    ("1", "o", "a"), (True, "o", "a"), (None, "o", "a"),
])
def test_a_malformed_terminal_event_is_refused(at, code, data):
    with pytest.raises(ValueError):
        terminal_record(at, code, data)
    with pytest.raises(ValueError):
        terminal_line(at, code, data)


def test_a_segment_of_terminal_records_reads_back_in_order():
    segment = terminal_record(T0, "r", "80x24") + terminal_record(T0 + 1, "o", "a") + terminal_record(T0 + 2, "i", "b")
    assert decode_terminal_lines(segment) == [TerminalLine(T0, "r", "80x24"), TerminalLine(T0 + 1, "o", "a"),
                                              TerminalLine(T0 + 2, "i", "b")]
    assert decode_terminal_lines(b"") == []


@pytest.mark.parametrize("bad", [
    struct.pack(">dBI", T0, ord("x"), 1) + b"a",  # no such code
    struct.pack(">dBI", T0, ord("o"), 1) + b"\xff",  # no UTF-8
    struct.pack(">dBI", T0, ord("r"), 3) + b"big",  # no size
    struct.pack(">dBI", math.nan, ord("o"), 1) + b"a", struct.pack(">dBI", math.inf, ord("o"), 1) + b"a",
    struct.pack(">dBI", T0, ord("o"), 5) + b"abc",  # cut short
    struct.pack(">dBI", T0, ord("o"), 0)[:-1],  # a header cut short
    struct.pack(">dBI", T0, 2, 1) + b"a",  # a screen record
])
def test_a_malformed_terminal_segment_is_refused(bad):
    with pytest.raises(ValueError):
        decode_terminal_lines(terminal_record(T0, "o", "fine") + bad)


@pytest.mark.parametrize(("cols", "rows"), [(80, 24), (1, 1), (10000, 10000)])
def test_a_resize_reads_back(cols, rows):
    assert parse_resize(resize_data(cols, rows)) == (cols, rows)


@pytest.mark.parametrize(("cols", "rows"), [(0, 24), (80, 0), (10001, 24), (-1, 24), (80, 100000)])
def test_a_resize_out_of_range_is_refused(cols, rows):
    with pytest.raises(ValueError):
        resize_data(cols, rows)


@pytest.mark.parametrize("data", ["", "80", "80x", "x24", "80X24", "80x24x1", "080x024 ", "+80x24", "8.0x24"])
def test_anything_else_is_no_resize(data):
    assert parse_resize(data) is None


# --- screen ---------------------------------------------------------------------------------------------------------

def _begin(seq=1, width=1280, height=720) -> bytes:
    return bytes((0,)) + struct.pack("!IHH", seq, width, height)


@pytest.mark.parametrize("channel", [2, 6])
@pytest.mark.parametrize("message", [_begin(), bytes((1,)) + b"tile" * 1000, bytes((2,)) + b"\x00\x00\x00\x01", b""])
def test_a_screen_record_reads_back(channel, message):
    record = screen_record(T0, channel, message)
    assert len(record) == SCREEN_HEADER_BYTES + len(message)
    assert struct.unpack_from(">dBI", record) == (T0, channel, len(message))
    assert decode_screen_records(record) == [ScreenRecord(T0, channel, message)]


def test_a_segment_of_screen_records_reads_back_in_order():
    records = [ScreenRecord(T0 + i, 2 if i % 2 else 6, bytes((i % 3,)) + bytes(i)) for i in range(20)]
    segment = b"".join(screen_record(*record) for record in records)
    assert decode_screen_records(segment) == records
    assert decode_screen_records(b"") == []


@pytest.mark.parametrize("channel", [0, 1, 3, 4, 5, 7, 255])
def test_only_the_screen_channels_are_recorded_as_screen(channel):
    with pytest.raises(ValueError):
        screen_record(T0, channel, _begin())


@pytest.mark.parametrize("cut", [1, SCREEN_HEADER_BYTES - 1, SCREEN_HEADER_BYTES, SCREEN_HEADER_BYTES + 8])
def test_a_screen_segment_cut_short_is_refused(cut):
    segment = screen_record(T0, 2, _begin()) + screen_record(T0 + 1, 2, _begin())
    with pytest.raises(ValueError):
        decode_screen_records(segment[:len(segment) - cut])


@pytest.mark.parametrize("header", [struct.pack(">dBI", T0, 3, 0), struct.pack(">dBI", math.nan, 2, 0),
                                    struct.pack(">dBI", math.inf, 2, 0), struct.pack(">dBI", T0, 2, 2 ** 32 - 1)])
def test_a_malformed_screen_record_is_refused(header):
    with pytest.raises(ValueError):
        decode_screen_records(screen_record(T0, 2, _begin()) + header)


# --- events ---------------------------------------------------------------------------------------------------------

EXAMPLES = [
    ("recording_started", {"part": PART, "replica": "r1"}),
    ("scopes", {"scopes": ["view", "control"]}),
    ("scope_request", {"request_id": "q1", "scopes": ["files"], "reason": "за файла", "status": "pending"}),
    ("chat", {"role": "customer", "author": "Иван Петров", "text": "Здравей\n\"свят\""}),
    ("file", {"transfer_id": "t", "direction": "to_customer", "name": "a.txt", "size": 3, "sha256": "0" * 64,
              "status": "offered"}),
    ("share", {"active": True}),
    ("peer", {"peer": "agent", "joined": False}),
    ("observers", {"observers": ["sam"]}),
    ("monitor", {"monitor": 2, "width": 1280, "height": 1024}),
    ("gap", {"dropped": 12}),
    ("end", {"reason": "session ended by customer"}),
    ("part_end", {"reason": "replaced by a newer connection"}),
]


def test_every_event_type_has_an_example_here():
    assert {kind for kind, _ in EXAMPLES} == EVENT_TYPES


@pytest.mark.parametrize(("kind", "fields"), EXAMPLES, ids=[kind for kind, _ in EXAMPLES])
def test_an_event_line_reads_back(kind, fields):
    line = event_line(T0, kind, **fields)
    assert line.endswith("\n") and line.count("\n") == 1
    assert decode_event_lines(line.encode()) == [{"at": T0, "type": kind, **fields}]


def test_an_event_line_keeps_its_text_as_utf8():
    assert "Иван" in event_line(T0, "chat", role="customer", author="Иван", text="")


@pytest.mark.parametrize("kind", ["", "hello", "END", "attached"])
def test_an_unknown_event_type_is_not_written(kind):
    with pytest.raises(ValueError):
        event_line(T0, kind)


def test_an_event_time_must_be_a_time():
    for at in (math.nan, math.inf, "1", True, None):
        with pytest.raises(ValueError):
            event_line(at, "gap", dropped=1)


def test_an_event_of_a_type_this_code_does_not_know_is_read_back_anyway():
    assert decode_event_lines('{"at":1,"type":"newer","x":1}\n') == [{"at": 1.0, "type": "newer", "x": 1}]


@pytest.mark.parametrize("line", ['{"at":1', "[]", "{}", '{"at":1}', '{"type":"gap"}', '{"at":"1","type":"gap"}',
                                  '{"at":true,"type":"gap"}', '{"at":1,"type":5}', '{"at":NaN,"type":"gap"}'])
def test_a_malformed_event_segment_is_refused(line):
    with pytest.raises(ValueError):
        decode_event_lines(event_line(T0, "gap", dropped=1) + line + "\n")


# --- the asciicast file ---------------------------------------------------------------------------------------------

def _cast(text: str) -> tuple[dict, list[list]]:
    header, *events = [json.loads(line) for line in text.splitlines()]
    return header, events


def test_the_asciicast_file_is_v2_with_times_from_the_start():
    lines = [TerminalLine(T0 + 0.5, "o", "$ "), TerminalLine(T0 + 1.25, "i", "ls\r"),
             TerminalLine(T0 + 1.5, "o", "a.txt\r\n")]
    header, events = _cast(asciicast(lines, T0, title="Session 42"))
    assert header == {"version": 2, "width": 80, "height": 24, "timestamp": int(T0), "title": "Session 42"}
    assert events == [[0.5, "o", "$ "], [1.25, "i", "ls\r"], [1.5, "o", "a.txt\r\n"]]


def test_the_asciicast_file_has_no_title_unless_given():
    header, events = _cast(asciicast([], T0))
    assert header == {"version": 2, "width": 80, "height": 24, "timestamp": int(T0)} and events == []


def test_the_asciicast_events_are_in_time_order_and_never_before_the_start():
    # Parts from two replicas, concatenated: merged by time; a line stamped before the start (clocks) counts as 0.
    lines = [TerminalLine(T0 + 2, "o", "b"), TerminalLine(T0 - 1, "o", "early"), TerminalLine(T0 + 1, "o", "a")]
    _header, events = _cast(asciicast(lines, T0))
    assert events == [[0.0, "o", "early"], [1.0, "o", "a"], [2.0, "o", "b"]]


def test_the_size_is_the_last_resize_before_the_first_output():
    lines = [TerminalLine(T0 + 0.1, "r", "100x30"), TerminalLine(T0 + 0.2, "r", "120x40"),
             TerminalLine(T0 + 0.3, "o", "x"), TerminalLine(T0 + 0.4, "r", "50x10")]
    assert terminal_size(lines) == (120, 40)
    header, events = _cast(asciicast(lines, T0))
    assert (header["width"], header["height"]) == (120, 40)
    assert [event[1] for event in events] == ["r", "r", "o", "r"]  # the resizes stay: the player follows them


def test_output_before_any_resize_takes_the_first_resize_and_none_at_all_the_default_size():
    # The shell's prompt often comes before the console says its size: the console's size is the terminal's.
    lines = [TerminalLine(T0, "o", "# "), TerminalLine(T0 + 1, "r", "45x42"), TerminalLine(T0 + 2, "r", "45x30")]
    assert terminal_size(lines) == (45, 42)
    assert terminal_size(list(reversed(lines))) == (45, 42)  # by time
    assert terminal_size([TerminalLine(T0, "o", "x"), TerminalLine(T0 + 1, "i", "y")]) == (80, 24)
    assert terminal_size([]) == (80, 24)


def test_the_asciicast_lines_keep_escape_sequences_and_unicode():
    text = asciicast([TerminalLine(T0, "o", "\x1b[31mчервено\x1b[0m\r\n")], T0)
    assert _cast(text)[1] == [[0.0, "o", "\x1b[31mчервено\x1b[0m\r\n"]]
    assert len(text.splitlines()) == 2
