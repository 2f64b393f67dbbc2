"""The agent's checks of input events (channel 3): what passes `inputs.parse`, and what the agent refuses."""

from __future__ import annotations

import asyncio
import re

import pytest

from assist_agent import framing, inputs
from assist_agent.channels import Channels


@pytest.mark.parametrize("event", [
    {"type": "text", "text": "Hello, world 123"},
    {"type": "text", "text": "Здравей, свят"},
    {"type": "text", "text": "€ ü ß ñ 日本 👍"},
    {"type": "text", "text": "x" * inputs.MAX_TEXT},
    {"type": "text", "text": " "},
    {"type": "key", "key": "a", "pressed": True},
    {"type": "key", "key": "Ж", "pressed": False},
    {"type": "key", "key": "Enter", "pressed": True},
    {"type": "key", "key": "Control", "pressed": False},
    {"type": "pointer_move", "x": 10, "y": 20.6},
    {"type": "pointer_button", "button": "right", "pressed": True},
    {"type": "scroll", "dx": 0, "dy": -1},
])
def test_well_formed_events_pass(event):
    parsed = inputs.parse(event)
    assert parsed.type == event["type"]
    if event["type"] == "text":
        assert parsed.text == event["text"]
    if event["type"] == "key":
        assert (parsed.key, parsed.pressed) == (event["key"], event["pressed"])


@pytest.mark.parametrize(("event", "why"), [
    ({"type": "text", "text": "x" * (inputs.MAX_TEXT + 1)}, "longer than"),
    ({"type": "text", "text": ""}, "non-empty"),
    ({"type": "text", "text": ["a"]}, "non-empty string"),
    ({"type": "text"}, "non-empty string"),
    ({"type": "text", "text": "ls\n"}, "U+000A"),
    ({"type": "text", "text": "a\rb"}, "U+000D"),
    ({"type": "text", "text": "a\tb"}, "U+0009"),
    ({"type": "text", "text": "\x1b[2J\x1b]0;owned\x07"}, "U+001B"),
    ({"type": "text", "text": "a\x00b"}, "U+0000"),
    ({"type": "text", "text": "a\x7f"}, "U+007F"),
    ({"type": "text", "text": "a\x9b31m"}, "U+009B"),
    ({"type": "text", "text": "file\u202etxt.exe"}, "U+202E"),
    ({"type": "text", "text": "a\u2028b"}, "U+2028"),
    ({"type": "text", "text": "\ud800"}, "U+D800"),
    ({"type": "text", "text": "\ue000"}, "U+E000"),
    ({"type": "key", "key": "\x03", "pressed": True}, "unknown key"),
    ({"type": "key", "key": "\n", "pressed": True}, "unknown key"),
    ({"type": "key", "key": "ab", "pressed": True}, "unknown key"),
    ({"type": "key", "key": "Unidentified", "pressed": True}, "unknown key"),
    ({"type": "key", "key": 65, "pressed": True}, "unknown key"),
    ({"type": "key", "key": "a", "pressed": "yes"}, "true or false"),
    ({"type": "key", "key": "a"}, "true or false"),
    ({"type": "pointer_button", "button": "left", "pressed": 1}, "true or false"),
    ({"type": "pointer_button", "button": "back", "pressed": True}, "unknown button"),
    ({"type": "pointer_move", "x": "1", "y": 2}, "`x`"),
    ({"type": "pointer_move", "x": float("nan"), "y": 2}, "`x`"),
    ({"type": "pointer_move", "x": 1e300, "y": 2}, "`x`"),
    ({"type": "scroll", "dx": True, "dy": 1}, "`dx`"),
    ({"type": "exec", "command": "rm -rf /"}, "unknown input event"),
    (["text", "a"], "JSON object"),
])
def test_malformed_events_are_refused_with_a_reason(event, why):
    with pytest.raises(inputs.InputError, match=re.escape(why)):
        inputs.parse(event)


def test_a_character_is_typed_as_its_own_keysym():
    assert inputs.char_keysym("a") == ord("a")
    assert inputs.char_keysym("é") == 0xE9  # Latin-1 keysyms are the code point
    assert inputs.char_keysym("З") == 0x01000417  # every other character: 0x01000000 + its code point
    assert inputs.char_keysym("👍") == 0x0101F44D


def _channels(scopes: set[str]) -> tuple[Channels, list[dict]]:
    sent: list[dict] = []

    async def send(data: bytes) -> None:
        sent.append(framing.decode(data).json())

    return Channels(send=send, scopes=frozenset(scopes)), sent


def _input(event: dict) -> bytes:
    return framing.encode_json(framing.INPUT, event)


def test_a_malformed_text_event_is_answered_with_refused_and_nothing_is_injected():
    channels, sent = _channels({"view", "control"})
    asyncio.run(channels.on_frame(_input({"type": "text", "text": "rm -rf ~\n"})))
    assert sent == [{"type": "refused", "what": "input",
                     "reason": sent[0]["reason"]}] and "U+000A" in sent[0]["reason"]
    assert channels._injector is None  # refused before anything could touch the display


def test_under_view_only_text_and_keys_are_refused_before_they_are_read():
    channels, sent = _channels({"view"})
    asyncio.run(channels.on_frame(_input({"type": "text", "text": "hello"})))
    asyncio.run(channels.on_frame(_input({"type": "key", "key": "Enter", "pressed": True})))
    assert [message["type"] for message in sent] == ["refused", "refused"]
    assert all("viewing only" in message["reason"] for message in sent)
    assert channels.refusals == 2 and channels._injector is None
