"""An X event reader on the customer's display: what an application really receives from the keyboard.

`XReader(display)` runs a small Tk window (an entry filling the screen) in a process of its own on that display.
Every key press becomes one JSON line `{"keysym", "char", "synthetic", "text"}`, where `char` is what Tk's own
lookup (the X server's keymap at that moment, as any application reads it) makes of the key and `text` is the
entry's content after it. A synthetic key (sent with XSendEvent, not through the X server's input) edits nothing,
as in xterm, browsers and most toolkits. Tk resolves keys as the customer's applications do, so a character that
arrives here arrives in a real program.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
from pathlib import Path

_PROGRAM = r"""
import json, sys, tkinter as tk

out = open(sys.argv[1], "a", buffering=1, encoding="utf-8")
root = tk.Tk()
root.title("x-reader")
root.geometry(f"{sys.argv[2]}x{sys.argv[3]}+0+0")
entry = tk.Entry(root, font=("TkFixedFont", 14))
entry.pack(fill="both", expand=True)

def log(event):
    out.write(json.dumps({"keysym": event.keysym, "char": event.char, "state": event.state,
                          "synthetic": bool(event.send_event), "text": entry.get()}) + "\n")

def pressed(event):
    if event.send_event:
        log(event)
        return "break"  # like xterm, browsers and most toolkits: a key sent with XSendEvent is not typing

# Logged by a tag right after Tk's own class binding ("Entry"), for each key as it comes: the text is what this key
# did, never a later key's too (an idle callback ran after both of two keys that arrived together).
tags = list(entry.bindtags())
tags.insert(tags.index("Entry") + 1, "logged")
entry.bindtags(tuple(tags))
entry.bind("<KeyPress>", pressed, add=True)
root.bind_class("logged", "<KeyPress>", log)

def ready():
    entry.focus_force()
    out.write(json.dumps({"ready": True}) + "\n")

root.after(100, ready)
root.mainloop()
"""


def missing_tk() -> str | None:
    try:
        import tkinter  # noqa: F401
    except ImportError:
        return "needs Python's tkinter (apt-get install -y python3-tk)"
    return None if shutil.which("Xvfb") else "needs Xvfb"


def keymap(display) -> list[tuple[int, ...]]:
    """The display's keymap: the keysyms of every keycode, as the X server has it now."""
    from Xlib import display as xdisplay

    connection = xdisplay.Display(display.display)
    info = connection.display.info
    mapping = connection.get_keyboard_mapping(info.min_keycode, info.max_keycode - info.min_keycode + 1)
    connection.close()
    return [tuple(keysyms) for keysyms in mapping]


class XReader:
    def __init__(self, display, log_path: Path) -> None:
        self.path = log_path
        self.path.write_text("")
        self.process = subprocess.Popen(
            [sys.executable, "-c", _PROGRAM, str(log_path), str(display.width), str(display.height)],
            env=display.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def events(self) -> list[dict]:
        return [json.loads(line) for line in self.path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def keys(self) -> list[dict]:
        return [event for event in self.events() if "keysym" in event]

    def text(self) -> str:
        keys = self.keys()
        return keys[-1]["text"] if keys else ""

    async def ready(self, timeout: float = 15.0) -> None:
        async with asyncio.timeout(timeout):
            while not any(event.get("ready") for event in self.events()):
                assert self.process.poll() is None, "the X reader exited"
                await asyncio.sleep(0.05)

    async def wait_for_text(self, expected: str, timeout: float = 15.0) -> None:
        try:
            async with asyncio.timeout(timeout):
                while self.text() != expected:
                    await asyncio.sleep(0.05)
        except TimeoutError:
            raise AssertionError(f"the X reader has {self.text()!r}, not {expected!r}; keys: {self.keys()}") from None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
