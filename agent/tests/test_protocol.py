"""Pure agent tests: framing, tile diffing and its wire format, scope decisions, the status line."""

from __future__ import annotations

import numpy as np
import pytest

from assist_agent import console, framing, scopes, tiles
from assist_agent.connection import agent_url
from assist_agent.status import describe


def test_a_frame_is_its_channel_byte_then_the_payload():
    assert framing.encode(framing.TERMINAL, b"ls\n") == b"\x01ls\n"
    frame = framing.decode(b"\x03{\"type\":\"key\"}")
    assert frame.channel == framing.INPUT and frame.json() == {"type": "key"}
    with pytest.raises(framing.FrameError):
        framing.decode(b"")
    with pytest.raises(framing.FrameError):
        framing.decode(b"\x00[1]").json()


def test_only_the_same_protocol_version_is_compatible():
    assert framing.compatible(framing.decode(console.hello()).json())
    assert not framing.compatible({"type": "hello", "protocol": 2})


@pytest.mark.parametrize(("granted", "channel", "refused"), [
    (["view"], framing.TERMINAL, True), (["view"], framing.INPUT, True), (["view"], framing.CONTROL, False),
    (["view", "control"], framing.TERMINAL, False), (["view", "control"], framing.INPUT, False),
    (["view", "control"], framing.SCREEN, True), (["view", "control"], 9, True), ([], framing.INPUT, True),
])
def test_the_agent_refuses_what_the_consent_does_not_allow(granted, channel, refused):
    assert (scopes.refusal(channel, scopes.normalise(granted)) is not None) is refused


def test_unknown_or_malformed_scopes_grant_nothing():
    assert scopes.normalise(["view", "admin"]) == {"view"}
    assert scopes.normalise("control") == frozenset()
    assert scopes.channels_offered(frozenset({"view"})) == ["terminal", "screen"]


def _screen(width=200, height=130, seed=1):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**32, size=(height, width), dtype=np.uint32)


def test_only_changed_tiles_are_found_edges_included():
    before = _screen()
    after = before.copy()
    after[5, 5] ^= 1
    after[129, 199] ^= 0xFF00
    assert tiles.changed_tiles(after, before) == [(0, 0, 64, 64), (192, 128, 8, 2)]
    assert tiles.changed_tiles(before, before) == []
    assert len(tiles.changed_tiles(before, None)) == 4 * 3


def test_decoded_updates_equal_the_captured_pixels_exactly():
    decoder = tiles.ScreenDecoder()
    first, second = _screen(seed=1), _screen(seed=1)
    second[60:70, 100:140] = 0x00123456
    for seq, (current, previous) in enumerate([(first, None), (second, first)]):
        for message in tiles.encode_update(seq, current, previous):
            decoder.apply(message)
        rgb = current.view(np.uint8).reshape(*current.shape, 4)[:, :, 2::-1].tobytes()
        assert bytes(decoder.rgb) == rgb and decoder.last_seq == seq
    assert list(tiles.encode_update(2, second, second)) == []


def test_the_gateway_address_becomes_the_agent_door():
    assert agent_url("https://assist.example.com", code="123456789") == "wss://assist.example.com/ws/v1/agent?code=123456789"
    assert (agent_url("http://127.0.0.1:8000/", resume="a b", session_id="s-1")
            == "ws://127.0.0.1:8000/ws/v1/agent?session=s-1&resume=a%20b")
    with pytest.raises(ValueError):
        agent_url("ftp://x", code="1")


def test_the_status_line_names_the_consultant_time_scopes_and_how_to_end():
    line = describe(consultant="maria", connected_since=100.0, scopes={"view", "control"}, now=3825.0)
    assert "maria" in line and "01:02:05" in line and "view, control" in line and line.endswith("to end press Q")
