"""The gate of the customer's browser share (issue #18, relay/share.py), as rules: which frames of a share pass (its
screen updates in the protocol's form, nothing else) and how the consultant gets them (channel 6). The whole path,
with chromium, is tests/test_ui_share.py; the door's attacks are tests/security/test_share_trust.py."""

from __future__ import annotations

import json
import struct

import pytest

from assist_gateway.relay.share import (
    BROWSER_SCREEN, MALFORMED_REASON, ONLY_SCREEN_REASON, browser_screen, share_frame_refusal, share_notice,
)


def _begin(seq: int = 1, width: int = 1280, height: int = 720) -> bytes:
    return bytes((2, 0)) + struct.pack("!IHH", seq, width, height)


def _tile(x: int = 0, y: int = 0, w: int = 64, h: int = 64, encoding: int = 0, data: bytes = b"x\x9c") -> bytes:
    return bytes((2, 1)) + struct.pack("!HHHHB", x, y, w, h, encoding) + data


def _end(seq: int = 1) -> bytes:
    return bytes((2, 2)) + struct.pack("!I", seq)


@pytest.mark.parametrize("frame", [
    _begin(), _begin(seq=2 ** 32 - 1, width=1, height=1), _begin(width=16384, height=16384),
    _tile(), _tile(x=1216, y=704, w=64, h=16), _tile(w=1, h=1, data=b"\x00"), _tile(data=b"z" * 100_000),
    _end(), _end(2 ** 32 - 1),
])
def test_the_screen_updates_of_the_protocol_pass(frame):
    assert share_frame_refusal(frame) is None


@pytest.mark.parametrize("channel", [0, 1, 3, 4, 5, 6, 7, 255])
def test_every_other_channel_is_refused(channel):
    # Control (0), keystrokes or terminal output (1), input (3), clipboard (4), files (5), and the console's own
    # channel 6 (a share that wrote it itself would still be rewritten, but it is not a share's to send).
    assert share_frame_refusal(bytes((channel,)) + _begin()[1:]) == ONLY_SCREEN_REASON
    assert share_frame_refusal(bytes((channel,)) + b'{"type": "pointer_move", "x": 1, "y": 1}') == ONLY_SCREEN_REASON


@pytest.mark.parametrize("frame", [b"", b"\x02"])
def test_an_empty_or_bare_frame_is_refused(frame):
    assert share_frame_refusal(frame) == ONLY_SCREEN_REASON


@pytest.mark.parametrize("frame", [
    _begin()[:-1], _begin() + b"\x00",  # a frame begin of the wrong length
    _begin(width=0), _begin(height=0), _begin(width=16385), _begin(height=65535),  # no picture, or an absurd one
    _tile()[:11], _tile(w=0), _tile(h=0), _tile(w=65), _tile(h=65535),  # no data, no tile, or a huge one
    _tile(encoding=1), _tile(encoding=255),  # encodings nobody decodes
    _end()[:-1], _end() + b"\x00",
    bytes((2, 3)) + b"\x00" * 8, bytes((2, 255)),  # kinds that do not exist
])
def test_a_malformed_screen_update_is_refused(frame):
    assert share_frame_refusal(frame) == MALFORMED_REASON


def test_the_consultant_gets_the_update_on_channel_6_byte_for_byte():
    for frame in (_begin(), _tile(data=bytes(range(256))), _end()):
        relayed = browser_screen(frame)
        assert relayed[0] == BROWSER_SCREEN == 6
        assert relayed[1:] == frame[1:]


def test_the_consultant_is_told_when_a_share_starts_and_stops():
    assert json.loads(share_notice(True)) == {"type": "share", "active": True}
    assert json.loads(share_notice(False)) == {"type": "share", "active": False}
