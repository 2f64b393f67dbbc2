"""The customer's shell in a Windows ConPTY through pywinpty. Not exercised by the Linux test suite.

pywinpty's reads block, so one daemon thread reads and hands the output to the event loop.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable


class WinPtyTerminal:
    def __init__(self, *, on_output: Callable[[bytes], None], on_exit: Callable[[], None], cols: int, rows: int) -> None:
        from winpty import PtyProcess  # pywinpty, installed only on Windows

        self._loop = asyncio.get_running_loop()
        self._on_output, self._on_exit = on_output, on_exit
        self._process = PtyProcess.spawn(os.environ.get("COMSPEC", "cmd.exe"), dimensions=(rows, cols))
        self._closed = False
        threading.Thread(target=self._read, name="winpty-reader", daemon=True).start()

    def _read(self) -> None:
        while not self._closed:
            try:
                text = self._process.read(65536)
            except EOFError:
                break
            if text:
                self._loop.call_soon_threadsafe(self._on_output, text.encode("utf-8", "replace"))
        if not self._closed:
            self._loop.call_soon_threadsafe(self._on_exit)

    def write(self, data: bytes) -> None:
        if not self._closed:
            self._process.write(data.decode("utf-8", "replace"))

    def resize(self, cols: int, rows: int) -> None:
        if not self._closed:
            self._process.setwinsize(max(1, int(rows)), max(1, int(cols)))

    def kill(self) -> None:
        try:
            self._process.terminate(force=True)
        except Exception:
            pass

    def close(self) -> None:
        self._closed = True
        self.kill()
