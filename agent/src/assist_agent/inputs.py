"""Pointer and keyboard injection (channel 3) with pynput; only ever called after `scopes.refusal` said yes.

Key names are the DOM `KeyboardEvent.key` values, so the web console can send what the browser gives it.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)

_SPECIAL_KEYS = {
    "Enter": "enter", "Tab": "tab", "Backspace": "backspace", "Escape": "esc", "Delete": "delete",
    "Insert": "insert", "Home": "home", "End": "end", "PageUp": "page_up", "PageDown": "page_down",
    "ArrowUp": "up", "ArrowDown": "down", "ArrowLeft": "left", "ArrowRight": "right", " ": "space",
    "Shift": "shift", "Control": "ctrl", "Alt": "alt", "Meta": "cmd", "CapsLock": "caps_lock",
    **{f"F{n}": f"f{n}" for n in range(1, 13)},
}
_BUTTONS = ("left", "right", "middle")


class InputError(ValueError):
    pass


class Injector:
    """Injects events into the customer's desktop; `close()` disables it for good (the kill switch)."""

    def __init__(self, *, origin: tuple[int, int] = (0, 0)) -> None:
        from pynput import keyboard, mouse  # needs a display: imported only when control is granted

        self._keyboard_module = keyboard
        self._mouse_module = mouse
        self._mouse = mouse.Controller()
        self._keyboard = keyboard.Controller()
        self._origin = origin
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    def apply(self, event: dict) -> None:
        if self._closed.is_set():
            return
        kind = event.get("type")
        if kind == "pointer_move":
            self._mouse.position = (self._origin[0] + _int(event, "x"), self._origin[1] + _int(event, "y"))
        elif kind == "pointer_button":
            button = event.get("button")
            if button not in _BUTTONS:
                raise InputError(f"unknown button {button!r}")
            target = getattr(self._mouse_module.Button, button)
            (self._mouse.press if event.get("pressed") else self._mouse.release)(target)
        elif kind == "scroll":
            self._mouse.scroll(_int(event, "dx"), _int(event, "dy"))
        elif kind == "key":
            key = self._key(event.get("key"))
            (self._keyboard.press if event.get("pressed") else self._keyboard.release)(key)
        else:
            raise InputError(f"unknown input event {kind!r}")

    def _key(self, name):
        if not isinstance(name, str) or not name:
            raise InputError("a key name is expected")
        if name in _SPECIAL_KEYS:
            return getattr(self._keyboard_module.Key, _SPECIAL_KEYS[name])
        if len(name) == 1:
            return name
        raise InputError(f"unknown key {name!r}")


def _int(event: dict, field: str) -> int:
    value = event.get(field)
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise InputError(f"`{field}` must be a number")
    return int(value)
