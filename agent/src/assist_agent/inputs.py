"""Pointer and keyboard injection (channel 3); only ever called after `scopes.refusal` said yes.

Every event is checked by `parse` first (strictly: a bad one raises `InputError`, which the agent answers with
`refused`, and nothing of it is injected). Key names are the DOM `KeyboardEvent.key` values, so the web console can
send what the browser gives it; `text` events carry printable characters, whatever the keyboard layout.

On X11 the keyboard goes through XTest (python-xlib), as a real keyboard would: pynput's X backend sends
characters as synthetic `XSendEvent` key events, which most applications (xterm, browsers, toolkits that check
`send_event`) ignore, so only its special keys (Enter, ...), sent with XTest, ever arrived (issue #14). A character
is typed on a spare keycode (one the keymap leaves empty) bound to its keysym for the time it is used, which is how
xdotool types: it arrives whatever the customer's layout, Bulgarian text included. The pointer stays with pynput
(XTest as well on X11), and elsewhere (Windows, macOS) pynput does the keyboard too.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass

log = logging.getLogger(__name__)

MAX_TEXT = 256  # characters (code points) in one `text` event
REBIND_AFTER = 0.5  # seconds a spare keycode keeps its character after its last key (see `XKeyboard._bind`)
SETTLE = 0.1  # seconds between binding characters to spare keycodes and typing them (see `XKeyboard._bind`)
# X keysym names of the DOM key names a `key` event may carry (besides one printable character).
KEY_NAMES = {
    "Enter": "Return", "Tab": "Tab", "Backspace": "BackSpace", "Escape": "Escape", "Delete": "Delete",
    "Insert": "Insert", "Home": "Home", "End": "End", "PageUp": "Prior", "PageDown": "Next",
    "ArrowUp": "Up", "ArrowDown": "Down", "ArrowLeft": "Left", "ArrowRight": "Right", " ": "space",
    "Shift": "Shift_L", "Control": "Control_L", "Alt": "Alt_L", "AltGraph": "ISO_Level3_Shift", "Meta": "Super_L",
    "CapsLock": "Caps_Lock", "ContextMenu": "Menu",
    **{f"F{n}": f"F{n}" for n in range(1, 13)},
}
_PYNPUT_KEYS = {
    "Enter": "enter", "Tab": "tab", "Backspace": "backspace", "Escape": "esc", "Delete": "delete",
    "Insert": "insert", "Home": "home", "End": "end", "PageUp": "page_up", "PageDown": "page_down",
    "ArrowUp": "up", "ArrowDown": "down", "ArrowLeft": "left", "ArrowRight": "right", " ": "space",
    "Shift": "shift", "Control": "ctrl", "Alt": "alt", "AltGraph": "alt_gr", "Meta": "cmd", "CapsLock": "caps_lock",
    "ContextMenu": "menu", **{f"F{n}": f"f{n}" for n in range(1, 13)},
}
SHORTCUT_MODIFIERS = frozenset({"Control", "Alt", "AltGraph", "Meta"})  # let go of while text is typed
_BUTTONS = ("left", "right", "middle")
# Invisible characters that reorder or hide what is shown (Trojan Source): never typed.
_BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200E, 0x200F, 0x061C))
# Unicode categories never typed: controls (C0, DEL, C1: newline, escape sequences), surrogates, private use,
# unassigned, line and paragraph separators.
_REFUSED_CATEGORIES = frozenset({"Cc", "Cs", "Co", "Cn", "Zl", "Zp"})


class InputError(ValueError):
    pass


@dataclass(frozen=True)
class Event:
    """One checked input event: what `parse` lets through, and all an injector ever sees."""

    type: str
    x: int = 0
    y: int = 0
    button: str = ""
    pressed: bool = False
    key: str = ""
    text: str = ""


def printable(char: str) -> bool:
    return unicodedata.category(char) not in _REFUSED_CATEGORIES and char not in _BIDI_CONTROLS


def parse(event) -> Event:
    """The checked event, or `InputError` saying why it is refused (nothing of a refused event is injected)."""
    if not isinstance(event, dict):
        raise InputError("an input event is a JSON object")
    kind = event.get("type")
    if kind == "pointer_move":
        return Event("pointer_move", x=_int(event, "x"), y=_int(event, "y"))
    if kind == "pointer_button":
        button = event.get("button")
        if button not in _BUTTONS:
            raise InputError(f"unknown button {button!r}")
        return Event("pointer_button", button=button, pressed=_bool(event, "pressed"))
    if kind == "scroll":
        return Event("scroll", x=_int(event, "dx"), y=_int(event, "dy"))
    if kind == "key":
        name = event.get("key")
        if not isinstance(name, str) or not (name in KEY_NAMES or (len(name) == 1 and printable(name))):
            raise InputError(f"unknown key {str(name)[:40]!r}")
        return Event("key", key=name, pressed=_bool(event, "pressed"))
    if kind == "text":
        text = event.get("text")
        if not isinstance(text, str) or not text:
            raise InputError("`text` must be a non-empty string")
        if len(text) > MAX_TEXT:
            raise InputError(f"`text` is longer than {MAX_TEXT} characters")
        bad = next((char for char in text if not printable(char)), None)
        if bad is not None:
            raise InputError(f"`text` holds a character that is never typed (U+{ord(bad):04X}); "
                             "Enter, Tab and Backspace are `key` events")
        return Event("text", text=text)
    raise InputError(f"unknown input event {str(kind)[:40]!r}")


class Injector:
    """Injects checked events into the customer's desktop, in order, on a thread of its own (typing may wait for a
    keycode to be free again, and the event loop must not); `close()` disables it for good (the kill switch): from
    then on nothing more is injected, not even the rest of a text being typed."""

    def __init__(self, *, origin: tuple[int, int] = (0, 0)) -> None:
        from pynput import mouse  # needs a display: imported only when control is granted

        self._mouse_module = mouse
        self._mouse = mouse.Controller()
        self._keyboard = XKeyboard() if _is_x11() else PynputKeyboard()
        self._origin = origin
        self._closed = threading.Event()
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="input", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._closed.set()

    def apply(self, event: Event) -> None:
        if not self._closed.is_set():
            self._queue.put(event)

    def move_origin(self, origin: tuple[int, int]) -> None:
        """Pointer coordinates are relative to `origin` (the shared monitor's top-left corner, issue #17) for the
        events after this call; those before it keep the monitor they were meant for."""
        self._queue.put(("origin", origin))

    def release_all(self) -> None:
        """Let go of every key still held down, after the events before it (a modifier never sticks when the
        consultant leaves)."""
        self._queue.put("release_all")

    def finish(self, timeout: float = 5.0) -> None:
        """At the end of the session: nothing more is injected, no key stays down, the keymap is as it was."""
        self.close()
        self._queue.put("finish")
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if isinstance(item, tuple):  # ("origin", (left, top)): the consultant picked another monitor
                    self._origin = item[1]
                elif item == "release_all":
                    self._keyboard.release_all()
                elif item == "finish":
                    self._keyboard.release_all()
                    self._keyboard.close()
                    return
                elif not self._closed.is_set():
                    self._inject(item)
            except Exception as error:  # one event that fails (a display gone, no spare keycode) stops nothing else
                log.warning("could not inject %s: %s", item if isinstance(item, str) else item.type, error)

    def _inject(self, event: Event) -> None:
        if event.type == "pointer_move":
            self._mouse.position = (self._origin[0] + event.x, self._origin[1] + event.y)
        elif event.type == "pointer_button":
            target = getattr(self._mouse_module.Button, event.button)
            (self._mouse.press if event.pressed else self._mouse.release)(target)
        elif event.type == "scroll":
            # The protocol's dy > 0 is down (the browser's wheel sign); pynput's positive dy is up.
            self._mouse.scroll(event.x, -event.y)
        elif event.type == "key":
            (self._keyboard.press if event.pressed else self._keyboard.release)(event.key)
        elif event.type == "text":
            self._keyboard.type(event.text, stop=self._closed.is_set)


def _is_x11() -> bool:
    return sys.platform not in ("win32", "darwin") and bool(os.environ.get("DISPLAY"))


def char_keysym(char: str) -> int:
    """The X keysym of a character: Latin-1 keysyms are the code point, every other one is 0x01000000 + it."""
    code = ord(char)
    return code if 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xFF else 0x01000000 | code


class XKeyboard:
    """Keys and text through XTest, on a connection of its own to the customer's X display."""

    def __init__(self) -> None:
        from Xlib import X, XK, display
        from Xlib.ext import xtest

        self._X, self._XK, self._xtest = X, XK, xtest
        self._display = display.Display()
        if not self._display.has_extension("XTEST"):
            raise RuntimeError("the X server has no XTEST extension")
        info = self._display.display.info
        mapping = self._display.get_keyboard_mapping(info.min_keycode, info.max_keycode - info.min_keycode + 1)
        self._width = len(mapping[0]) if mapping else 2
        spares = [info.min_keycode + i for i, keysyms in enumerate(mapping) if not any(keysyms)]
        # keysym -> spare keycode bound to it, least recently used first.
        self._bound: OrderedDict[int, int] = OrderedDict((-code, code) for code in spares)
        self._held: dict[str, int] = {}  # key name -> the keycode pressed for it (released the same)
        self._last_used: dict[int, float] = {}  # spare keycode -> when its last key was typed (monotonic)
        self._lock = threading.Lock()
        log.info("X keyboard through XTest, %d spare keycodes for characters outside the keymap", len(spares))

    def press(self, name: str) -> None:
        with self._lock:
            code = self._held.get(name) or self._keycode_for_key(name)
            self._held[name] = code
            self._fake(self._X.KeyPress, code)

    def release(self, name: str) -> None:
        with self._lock:
            code = self._held.pop(name, None)
            if code is not None:  # a release without its press (the press was before a reload) changes nothing
                self._fake(self._X.KeyRelease, code)
                self._last_used[code] = time.monotonic()

    def release_all(self) -> None:
        with self._lock:
            for code in self._held.values():
                self._fake(self._X.KeyRelease, code)
            self._held.clear()

    def type(self, text: str, stop=lambda: False) -> None:
        """Types `text` with no shortcut modifier down: a Ctrl, Alt or Meta the consultant holds is let go for the
        time (text is never a shortcut), then pressed again; Shift stays (a spare keycode types the same with it).
        `stop()` true ends the typing between two characters (the kill switch)."""
        with self._lock:
            shortcut_mods = [code for name, code in self._held.items() if name in SHORTCUT_MODIFIERS]
            for code in shortcut_mods:
                self._fake(self._X.KeyRelease, code)
            keysyms = [char_keysym(char) for char in text]
            capacity = max(1, len(self._bound) - len(self._held))
            start = 0
            while start < len(keysyms) and not stop():
                # A round: the longest run of characters whose keysyms the spare keycodes hold all at once.
                needed: list[int] = []
                end = start
                while end < len(keysyms) and (keysyms[end] in needed or len(needed) < capacity):
                    if keysyms[end] not in needed:
                        needed.append(keysyms[end])
                    end += 1
                codes = self._bind(needed)
                for keysym in keysyms[start:end]:
                    if stop():
                        break
                    self._fake(self._X.KeyPress, codes[keysym])
                    self._fake(self._X.KeyRelease, codes[keysym])
                    self._last_used[codes[keysym]] = time.monotonic()
                start = end
            for code in shortcut_mods:
                self._fake(self._X.KeyPress, code)

    def close(self) -> None:
        """Unbinds the spare keycodes (the keymap is as it was) and closes the connection."""
        with self._lock:
            for keysym, code in self._bound.items():
                if keysym > 0:
                    self._display.change_keyboard_mapping(code, [(0,) * self._width])
            self._display.sync()
            self._display.close()

    def _keycode_for_key(self, name: str) -> int:
        if name in KEY_NAMES:
            keysym = self._XK.string_to_keysym(KEY_NAMES[name])
        else:
            keysym = char_keysym(name)
        # A shortcut (Ctrl+C) must use the key the keymap has for it, where applications look for it.
        code = self._display.keysym_to_keycode(keysym)
        return code or self._bind([keysym])[keysym]

    def _bind(self, keysyms: list[int]) -> dict[int, int]:
        """Spare keycodes bound to `keysyms` (each in every column: whatever the group, level or Shift, the same).

        Applications read a key, and the keymap change before it, only when they get to it; one behind on its
        events reads the key with the keymap it had (nothing, or the character bound there before). So a spare is
        rebound only `REBIND_AFTER` seconds after its last key, never while held down or needed by the same round,
        and after binding the agent gives applications `SETTLE` seconds before the first key. Typing by hand
        waits only for a character not bound yet; a text waits once per round of spares.
        """
        codes: dict[int, int] = {}
        changed = False
        for keysym in keysyms:
            if keysym in self._bound:
                self._bound.move_to_end(keysym)
                codes[keysym] = self._bound[keysym]
        busy = set(self._held.values()) | set(codes.values())
        for keysym in keysyms:
            if keysym in codes:
                continue
            old = next((bound for bound, code in self._bound.items() if code not in busy), None)
            if old is None:
                raise InputError("the keyboard has no spare keycode for characters outside its layout")
            code = self._bound.pop(old)
            wait = self._last_used.get(code, 0.0) + REBIND_AFTER - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            self._display.change_keyboard_mapping(code, [(keysym,) * self._width])
            self._bound[keysym] = codes[keysym] = code
            busy.add(code)
            changed = True
        if changed:
            self._display.sync()
            time.sleep(SETTLE)
        return codes

    def _fake(self, kind: int, code: int) -> None:
        self._xtest.fake_input(self._display, kind, code)
        self._display.sync()


class PynputKeyboard:
    """Windows and macOS: pynput types characters as Unicode input there, and presses named keys."""

    def __init__(self) -> None:
        from pynput import keyboard

        self._module = keyboard
        self._controller = keyboard.Controller()
        self._held: set[str] = set()

    def _key(self, name: str):
        return getattr(self._module.Key, _PYNPUT_KEYS[name]) if name in _PYNPUT_KEYS else name

    def press(self, name: str) -> None:
        self._held.add(name)
        self._controller.press(self._key(name))

    def release(self, name: str) -> None:
        if name in self._held:
            self._held.discard(name)
            self._controller.release(self._key(name))

    def release_all(self) -> None:
        for name in list(self._held):
            self.release(name)

    def close(self) -> None:
        pass

    def type(self, text: str, stop=lambda: False) -> None:
        shortcut_mods = [name for name in self._held if name in SHORTCUT_MODIFIERS]
        for name in shortcut_mods:
            self._controller.release(self._key(name))
        for char in text:
            if stop():
                break
            self._controller.type(char)
        for name in shortcut_mods:
            self._controller.press(self._key(name))


def _int(event: dict, field: str) -> int:
    value = event.get(field)
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value != value or abs(value) > 1 << 20:
        raise InputError(f"`{field}` must be a number")
    return int(value)


def _bool(event: dict, field: str) -> bool:
    value = event.get(field)
    if not isinstance(value, bool):
        raise InputError(f"`{field}` must be true or false")
    return value
