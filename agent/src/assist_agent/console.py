"""The consultant's side of protocol v1, in Python: what the tests use and what the web UI mirrors in JS."""

from __future__ import annotations

from . import framing
from .tiles import ScreenDecoder

__all__ = ["ScreenDecoder", "hello", "resize", "screen_start", "screen_stop", "screen_select", "keystrokes",
           "pointer_move", "pointer_button", "key", "scroll", "decode"]

decode = framing.decode


def hello() -> bytes:
    return framing.control("hello", protocol=framing.PROTOCOL, role="console")


def resize(cols: int, rows: int) -> bytes:
    return framing.control("resize", cols=cols, rows=rows)


def screen_start(max_fps: float | None = None) -> bytes:
    return framing.control("screen.start", **({"max_fps": max_fps} if max_fps else {}))


def screen_stop() -> bytes:
    return framing.control("screen.stop")


def screen_select(monitor) -> bytes:
    """Show the agent's monitor number `monitor` (as its hello lists them) instead (issue #17)."""
    return framing.control("screen.select", monitor=monitor)


def keystrokes(data: bytes | str) -> bytes:
    return framing.encode(framing.TERMINAL, data.encode() if isinstance(data, str) else data)


def pointer_move(x: int, y: int) -> bytes:
    return framing.encode_json(framing.INPUT, {"type": "pointer_move", "x": x, "y": y})


def pointer_button(button: str, pressed: bool) -> bytes:
    return framing.encode_json(framing.INPUT, {"type": "pointer_button", "button": button, "pressed": pressed})


def key(name: str, pressed: bool) -> bytes:
    return framing.encode_json(framing.INPUT, {"type": "key", "key": name, "pressed": pressed})


def scroll(dx: int, dy: int) -> bytes:
    return framing.encode_json(framing.INPUT, {"type": "scroll", "dx": dx, "dy": dy})
