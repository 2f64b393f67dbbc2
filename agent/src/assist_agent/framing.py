"""Protocol v1 framing (docs/protocol.md): one binary WebSocket frame = `[u8 channel][payload]`.

Pure functions only, so the agent, the tests' console and the web UI (mirrored in JS) agree byte for byte.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

PROTOCOL = 1

CONTROL = 0
TERMINAL = 1
SCREEN = 2
INPUT = 3
CLIPBOARD = 4  # clipboard text, either way, under the `clipboard` scope (#17)
FILES = 5  # file transfers, either way, under the `files` scope (#17)
CHANNEL_NAMES = {CONTROL: "control", TERMINAL: "terminal", SCREEN: "screen", INPUT: "input", CLIPBOARD: "clipboard",
                 FILES: "files"}


class FrameError(ValueError):
    """A frame this side cannot read: dropped and logged, never fatal."""


@dataclass(frozen=True)
class Frame:
    channel: int
    payload: bytes

    def json(self) -> dict:
        """The payload of a control or input frame as a JSON object."""
        try:
            value = json.loads(self.payload)
        except (ValueError, UnicodeDecodeError) as error:
            raise FrameError(f"channel {self.channel}: not JSON") from error
        if not isinstance(value, dict) or not isinstance(value.get("type"), str):
            raise FrameError(f"channel {self.channel}: a JSON object with a `type` is expected")
        return value


def encode(channel: int, payload: bytes) -> bytes:
    if not 0 <= channel <= 255:
        raise FrameError(f"channel {channel} is not a u8")
    return bytes((channel,)) + payload


def encode_json(channel: int, message: dict) -> bytes:
    return encode(channel, json.dumps(message, separators=(",", ":")).encode())


def decode(data: bytes) -> Frame:
    if not data:
        raise FrameError("empty frame")
    return Frame(channel=data[0], payload=bytes(data[1:]))


def control(message_type: str, **fields) -> bytes:
    return encode_json(CONTROL, {"type": message_type, **fields})


def compatible(hello: dict) -> bool:
    """Same major protocol version: the only thing both sides must share."""
    return hello.get("type") == "hello" and isinstance(hello.get("protocol"), int) and hello["protocol"] == PROTOCOL
