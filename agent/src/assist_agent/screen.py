"""The screen channel: capture (mss), changed tiles, a bounded frame rate, in a thread of its own.

Capturing and compressing are CPU work; doing them off the event loop keeps the terminal, the relay and the
kill switch responsive whatever the screen does. The thread waits for each frame to be handed to the socket
before capturing the next one, so a slow network lowers the frame rate instead of queueing frames.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable

from . import framing, tiles
from .monitors import Monitor, from_mss

log = logging.getLogger(__name__)
DEFAULT_MAX_FPS = 15.0
MAX_FPS = 30.0


def list_monitors() -> tuple[Monitor, ...]:
    """The monitors this computer can share (monitors.py), or none when no screen can be captured."""
    try:
        import mss

        with mss.mss() as sct:
            return from_mss(sct.monitors)
    except Exception as error:  # no display, no permission: the screen channel is simply not offered
        log.info("no screen to capture: %s", error)
        return ()


class ScreenStreamer:
    def __init__(self, *, send: Callable[[bytes], Awaitable[None]], loop: asyncio.AbstractEventLoop, monitor: Monitor,
                 max_fps: float = DEFAULT_MAX_FPS) -> None:
        self._send = send
        self._monitor = monitor
        self._switch: tuple[Monitor, bytes] | None = None  # the consultant's next monitor, and what announces it
        self._switch_lock = threading.Lock()
        self._loop = loop
        self._interval = 1.0 / max(1.0, min(float(max_fps), MAX_FPS))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="screen-capture", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Thread-safe and immediate: no capture starts after this returns, none is sent after the current one."""
        self._stop.set()

    def switch(self, monitor: Monitor, announce: bytes) -> None:
        """From the next frame on, capture `monitor`: `announce` (the `screen.selected` message) goes out right
        before its first frame, which is a full one, and no tile of the previous monitor goes out after it. The
        socket and the thread stay as they are."""
        with self._switch_lock:
            self._switch = (monitor, announce)

    def _take_switch(self) -> tuple[Monitor, bytes] | None:
        with self._switch_lock:
            switch, self._switch = self._switch, None
        return switch

    @property
    def running(self) -> bool:
        return self._thread.is_alive() and not self._stop.is_set()

    def _run(self) -> None:
        import mss

        try:
            with mss.mss() as sct:
                monitor = self._monitor.region()
                previous = None
                seq = 0
                next_at = time.monotonic()
                while not self._stop.is_set():
                    announce = []
                    switch = self._take_switch()
                    if switch is not None:  # a whole frame of the new monitor, after the message that names it
                        monitor, previous, announce = switch[0].region(), None, [switch[1]]
                    shot = sct.grab(monitor)
                    current = tiles.as_pixels(shot.raw, shot.width, shot.height).copy()
                    messages = [framing.encode(framing.SCREEN, m) for m in tiles.encode_update(seq, current, previous)]
                    messages = announce + messages
                    if messages and not self._deliver(messages):
                        return
                    if messages:
                        seq += 1
                    previous = current
                    # Absolute deadlines: one slow frame does not lower the rate of all the later ones.
                    next_at = max(next_at + self._interval, time.monotonic() - self._interval)
                    self._stop.wait(max(0.0, next_at - time.monotonic()))
        except Exception:
            log.exception("screen capture stopped")

    def _deliver(self, messages: list[bytes]) -> bool:
        async def send_all() -> None:
            for message in messages:
                if self._stop.is_set():
                    return
                await self._send(message)

        future = asyncio.run_coroutine_threadsafe(send_all(), self._loop)
        try:
            future.result()
            return True
        except Exception as error:
            log.info("screen updates stopped: %s", error)
            return False
