"""What a recording keeps of each thing a consultant's connection passes (issue #19, recording/capture.py), as rules:
frames and control messages in, segments in format.py's forms out. The whole path, through a real relay, is
test_recording_relay.py."""

from __future__ import annotations

import json
import struct
import uuid

import pytest

from assist_gateway.recording.capture import PartCapture, kept
from assist_gateway.recording.format import (
    ScreenRecord, TerminalLine, decode_event_lines, decode_screen_records, decode_terminal_lines,
)

T0 = 1764547200.0
PART = "1764547200000-0a1b2c3d"
TID = "84650442-5f7a-4bde-912c-e5fc0e7a8bef"  # fixed: the same in every xdist worker
SHA = "ab" * 32


def _capture(scopes=("view", "control")) -> PartCapture:
    return PartCapture(part=PART, replica="r1", started_at=T0, scopes=scopes)


def _events(capture: PartCapture) -> list[dict]:
    taken = capture.pending["events"].take()
    return decode_event_lines(taken[0]) if taken else []


def _later_events(capture: PartCapture) -> list[dict]:
    return _events(capture)[2:]  # after `recording_started` and `scopes`


def _terminal(capture: PartCapture) -> list[TerminalLine]:
    taken = capture.pending["terminal"].take()
    return decode_terminal_lines(taken[0]) if taken else []


def _screen(capture: PartCapture) -> list[ScreenRecord]:
    taken = capture.pending["screen"].take()
    return decode_screen_records(taken[0]) if taken else []


def _control(**message) -> bytes:
    return b"\x00" + json.dumps(message).encode()


def _files(**message) -> bytes:
    return bytes((5, 0)) + json.dumps(message).encode()


def _chunk() -> bytes:
    return bytes((5, 1)) + uuid.UUID(TID).bytes + (0).to_bytes(8, "big") + b"data"


def test_a_part_begins_with_its_start_and_the_scopes_in_force():
    assert _events(_capture(scopes=("view",))) == [
        {"at": T0, "type": "recording_started", "part": PART, "replica": "r1"},
        {"at": T0, "type": "scopes", "scopes": ["view"]},
    ]


# --- the terminal ---------------------------------------------------------------------------------------------------

def test_the_agents_terminal_output_is_recorded_as_o_decoded_across_frames():
    capture, text = _capture(), "зелено 🎉\r\n".encode()
    capture.to_console(T0 + 1, b"\x01" + text[:1])  # half a Cyrillic letter: nothing yet
    capture.to_console(T0 + 2, b"\x01" + text[1:9])
    capture.to_console(T0 + 3, b"\x01" + text[9:])
    lines = _terminal(capture)
    assert "".join(line.data for line in lines) == "зелено 🎉\r\n"
    assert [line.code for line in lines] == ["o", "o"] and [line.at for line in lines] == [T0 + 2, T0 + 3]


def test_bytes_that_are_no_utf8_are_recorded_as_replacement_characters():
    capture = _capture()
    capture.to_console(T0, b"\x01a\xffb")
    assert _terminal(capture) == [TerminalLine(T0, "o", "a\ufffdb")]


def test_the_consultants_keystrokes_are_recorded_as_i():
    capture = _capture()
    capture.from_console(T0 + 1, b"\x01ls\r")
    capture.from_console(T0 + 2, b"\x01\x03")
    assert _terminal(capture) == [TerminalLine(T0 + 1, "i", "ls\r"), TerminalLine(T0 + 2, "i", "\x03")]


def test_output_and_keystrokes_are_decoded_apart():
    capture, letter = _capture(), "ж".encode()
    capture.to_console(T0, b"\x01" + letter[:1])
    capture.from_console(T0 + 1, b"\x01x")  # a keystroke between the two halves of the output's letter
    capture.to_console(T0 + 2, b"\x01" + letter[1:])
    assert _terminal(capture) == [TerminalLine(T0 + 1, "i", "x"), TerminalLine(T0 + 2, "o", "ж")]


def test_the_consoles_resize_is_recorded_as_r():
    capture = _capture()
    capture.from_console(T0, _control(type="resize", cols=120, rows=40))
    assert _terminal(capture) == [TerminalLine(T0, "r", "120x40")]


@pytest.mark.parametrize("message", [
    {"type": "resize", "cols": 0, "rows": 40}, {"type": "resize", "cols": 120}, {"type": "resize", "cols": "120",
                                                                                   "rows": 40},
    {"type": "resize", "cols": True, "rows": 40}, {"type": "resize", "cols": 100_000, "rows": 40},
    {"type": "screen.start", "max_fps": 15}, {"type": "hello", "note": "resize"},
])
def test_other_console_control_messages_and_impossible_sizes_are_not_recorded(message):
    capture = _capture()
    capture.from_console(T0, _control(**message))
    assert _terminal(capture) == [] and _later_events(capture) == []


def test_a_console_control_frame_that_is_no_json_is_not_recorded():
    capture = _capture()
    capture.from_console(T0, b"\x00resize{")
    assert _terminal(capture) == [] and _later_events(capture) == []


def test_the_end_writes_what_a_decoder_held_back():
    capture = _capture()
    capture.to_console(T0, b"\x01ok" + "ж".encode()[:1])
    capture.end(T0 + 5, reason="session ended by customer", final=True)
    assert _terminal(capture) == [TerminalLine(T0, "o", "ok"), TerminalLine(T0 + 5, "o", "\ufffd")]
    assert _later_events(capture) == [{"at": T0 + 5, "type": "end", "reason": "session ended by customer",
                                       "ended_by": "customer", "end_reason": "customer_terminated"}]


def test_a_connection_that_ends_while_the_session_goes_on_is_a_part_end():
    capture = _capture()
    capture.end(T0 + 5, reason="replaced by a newer connection", final=False)
    assert _later_events(capture) == [{"at": T0 + 5, "type": "part_end", "reason": "replaced by a newer connection"}]


# --- the screen -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("channel", [2, 6])
def test_screen_updates_are_recorded_without_their_channel_byte(channel):
    capture = _capture()
    begin = bytes((0,)) + struct.pack("!IHH", 1, 1280, 720)
    tile = bytes((1,)) + struct.pack("!HHHHB", 0, 0, 64, 64, 0) + b"zlib"
    capture.to_console(T0 + 1, bytes((channel,)) + begin)
    capture.to_console(T0 + 2, bytes((channel,)) + tile)
    assert _screen(capture) == [ScreenRecord(T0 + 1, channel, begin), ScreenRecord(T0 + 2, channel, tile)]


def test_the_agent_showing_another_monitor_is_an_event():
    capture = _capture()
    capture.to_console(T0, _control(type="screen.selected", monitor=2, width=1280, height=1024))
    assert _later_events(capture) == [{"at": T0, "type": "monitor", "monitor": 2, "width": 1280, "height": 1024}]


@pytest.mark.parametrize("message", [
    {"type": "hello", "protocol": 1, "screen": {"width": 1, "height": 1}}, {"type": "refused", "what": "x"},
    {"type": "screen.selected", "monitor": 2, "width": 1280}, {"type": "screen.selected", "monitor": "2",
                                                                "width": 1, "height": 1},
    {"type": "bye", "note": "screen.selected"},
])
def test_the_agents_other_control_messages_are_not_recorded(message):
    capture = _capture()
    capture.to_console(T0, _control(**message))
    assert _later_events(capture) == []


# --- files ----------------------------------------------------------------------------------------------------------

def test_a_file_offered_by_the_consultant_and_received_is_two_events():
    capture = _capture()
    capture.from_console(T0 + 1, _files(type="file.offer", id=TID, name="отчет.pdf", size=3, sha256=SHA))
    capture.to_console(T0 + 2, _files(type="file.accept", id=TID, offset=0))
    capture.to_console(T0 + 3, _files(type="file.progress", id=TID, received=3))
    capture.to_console(T0 + 4, _files(type="file.done", id=TID, size=3, sha256=SHA))
    common = {"type": "file", "transfer_id": TID, "direction": "to_customer", "name": "отчет.pdf", "size": 3,
              "sha256": SHA}
    assert _later_events(capture) == [{"at": T0 + 1, **common, "status": "offered"},
                                      {"at": T0 + 4, **common, "status": "done"}]


@pytest.mark.parametrize(("kind", "status"), [("file.refuse", "refused"), ("file.failed", "failed"),
                                              ("file.cancel", "cancelled")])
def test_a_file_offered_by_the_customer_ends_as_its_message_says(kind, status):
    capture = _capture()
    capture.to_console(T0 + 1, _files(type="file.offer", id=TID, name="log.txt", size=10, sha256=SHA))
    capture.from_console(T0 + 2, _files(type=kind, id=TID, reason="no"))
    assert [(event["direction"], event["status"]) for event in _later_events(capture)] == [
        ("from_customer", "offered"), ("from_customer", status)]


def test_the_end_of_a_file_offered_before_the_part_began_is_recorded_with_what_it_says():
    capture = _capture()
    capture.to_console(T0, _files(type="file.done", id=TID, size=3, sha256=SHA))
    assert _later_events(capture) == [{"at": T0, "type": "file", "transfer_id": TID, "direction": None,
                                       "name": None, "size": 3, "sha256": SHA, "status": "done"}]


@pytest.mark.parametrize("frame", [
    _files(type="file.offer", id=TID, name="", size=3, sha256=SHA), _files(type="file.offer", id="x", name="a",
                                                                           size=3, sha256=SHA),
    _files(type="file.done", id="not-a-uuid"), _files(type="file.request", id=TID), bytes((5, 0)) + b"{",
])
def test_malformed_and_other_files_messages_are_not_recorded(frame):
    capture = _capture()
    capture.from_console(T0, frame)
    capture.to_console(T0, frame)
    assert _later_events(capture) == []


# --- what is queued at all --------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("frame", "to_console", "expected"), [
    (b"\x00{}", True, True), (b"\x01x", True, True), (b"\x02\x00", True, True), (b"\x06\x00", True, True),
    (_files(type="file.offer"), True, True), (_chunk(), True, False), (b"\x04clip", True, False),
    (b"\x03{}", True, False), (b"", True, False), (b"\x05", True, False), (b"\x07", True, False),
    (b"\x00{}", False, True), (b"\x01x", False, True), (_files(type="file.offer"), False, True),
    (_chunk(), False, False), (b"\x03{\"type\":\"pointer_move\"}", False, False), (b"\x04clip", False, False),
    (b"\x02\x00", False, False), (b"\x06\x00", False, False),
])
def test_only_what_a_recording_keeps_is_queued(frame, to_console, expected):
    assert kept(frame, to_console=to_console) is expected


# --- the gateway's control messages -----------------------------------------------------------------------------------

CONTROLS = [
    ({"type": "chat", "message": {"session_id": "s", "seq": 1, "role": "customer", "author": "Иван",
                                  "text": "Здравей", "posted_at": "2026-12-01T00:00:00Z"}},
     {"type": "chat", "role": "customer", "author": "Иван", "text": "Здравей"}),
    ({"type": "scopes", "scopes": ["view"]}, {"type": "scopes", "scopes": ["view"]}),
    ({"type": "scope_request", "request_id": "q1", "session_id": "s", "scopes": ["files"], "reason": "за файл",
      "requested_by": "maria", "requested_at": "x", "status": "pending", "decided_at": None},
     {"type": "scope_request", "request_id": "q1", "scopes": ["files"], "reason": "за файл", "status": "pending"}),
    ({"type": "share", "active": True}, {"type": "share", "active": True}),
    ({"type": "peer_joined", "peer": "agent"}, {"type": "peer", "peer": "agent", "joined": True}),
    ({"type": "peer_left", "peer": "agent"}, {"type": "peer", "peer": "agent", "joined": False}),
    ({"type": "observers", "observers": ["sam"]}, {"type": "observers", "observers": ["sam"]}),
]


@pytest.mark.parametrize(("message", "event"), CONTROLS, ids=[f"{m['type']}-{i}" for i, (m, _) in enumerate(CONTROLS)])
def test_the_gateways_control_messages_to_the_console_are_events(message, event):
    capture = _capture()
    capture.control(T0, json.dumps(message, ensure_ascii=False))
    assert _later_events(capture) == [{"at": T0, **event}]


@pytest.mark.parametrize("text", [
    json.dumps({"type": "attached", "session_id": "s", "scopes": ["view"]}), json.dumps({"type": "waiting_for_agent"}),
    json.dumps({"type": "refused", "what": "text", "reason": "x"}), json.dumps({"type": "scopes", "scopes": "view"}),
    json.dumps({"type": "share", "active": "yes"}), json.dumps({"type": "observers", "observers": [1]}),
    json.dumps({"type": "chat", "message": "hi"}), json.dumps(["scopes"]), "not json", "",
])
def test_other_or_malformed_control_messages_are_not_events(text):
    capture = _capture()
    capture.control(T0, text)
    assert _later_events(capture) == []


def test_a_gap_is_an_event_with_how_many_were_left_out():
    capture = _capture()
    capture.gap(T0 + 1, 7)
    assert _later_events(capture) == [{"at": T0 + 1, "type": "gap", "dropped": 7}]


def test_a_pending_segment_is_taken_once_with_its_times():
    capture = _capture()
    capture.to_console(T0 + 1, b"\x01a")
    capture.to_console(T0 + 2, b"\x01b")
    pending = capture.pending["terminal"]
    assert pending.size > 0
    data, first_at, last_at = pending.take()
    assert (first_at, last_at) == (T0 + 1, T0 + 2) and len(decode_terminal_lines(data)) == 2
    assert pending.take() is None and pending.size == 0
