"""The agent's side of protocol v1: handshake, terminal, screen and input, and the local kill switch.

Every frame from the console passes `scopes.refusal` first: the agent alone decides, from the consent's scopes
it got in `attached`, what the consultant may see and do, whatever the gateway forwards.
"""

from __future__ import annotations

import asyncio
import logging
import platform
import socket
import threading
from collections.abc import Awaitable, Callable

from . import framing, scopes as scope_rules
from .platforms import open_terminal
from .screen import DEFAULT_MAX_FPS, ScreenStreamer, screen_size

log = logging.getLogger(__name__)


class Channels:
    def __init__(self, *, send: Callable[[bytes], Awaitable[None]], scopes: frozenset[str],
                 mirror: Callable[[bytes], None] | None = None) -> None:
        self._send = send
        # The shell's output is shown in the agent's own window too: the customer sees what the consultant does.
        self._mirror = mirror
        self.scopes = scopes
        self.closed = threading.Event()  # set by the kill switch from any thread: nothing passes after it
        self._terminal = None
        self._screen: ScreenStreamer | None = None
        self._injector = None
        self._screen_info = screen_size() if scope_rules.may_see(scopes) else None
        self.refusals = 0

    # --- handshake -----------------------------------------------------------------------------------------------
    async def peer_joined(self) -> None:
        if self._terminal is None and scope_rules.may_see(self.scopes):
            # The shell outlives a consultant's reload or a network drop: it ends only with the session.
            self._terminal = open_terminal(on_output=self._terminal_output, on_exit=self._terminal_exit)
        if self.closed.is_set():
            return
        await self._send(framing.control(
            "hello", protocol=framing.PROTOCOL, role="agent", channels=scope_rules.channels_offered(self.scopes),
            scopes=sorted(self.scopes), platform=platform.system().lower(), hostname=socket.gethostname(),
            screen=({"width": self._screen_info["width"], "height": self._screen_info["height"]}
                    if self._screen_info else None),
        ))

    def peer_left(self) -> None:
        self._stop_screen()
        if self._injector is not None:
            self._injector.release_all()  # a key the consultant held (Ctrl, Shift) never stays down

    # --- from the console ----------------------------------------------------------------------------------------
    async def on_frame(self, data: bytes) -> None:
        if self.closed.is_set():
            return
        try:
            frame = framing.decode(data)
        except framing.FrameError as error:
            log.warning("dropped a frame from the console: %s", error)
            return
        refusal = scope_rules.refusal(frame.channel, self.scopes)
        if refusal is not None:
            await self._refuse(framing.CHANNEL_NAMES.get(frame.channel, str(frame.channel)), refusal)
            return
        try:
            if frame.channel == framing.CONTROL:
                await self._on_control(frame.json())
            elif frame.channel == framing.TERMINAL:
                if self._terminal is not None:
                    self._terminal.write(frame.payload)
            elif frame.channel == framing.INPUT:
                await self._inject(frame.json())
        except (framing.FrameError, ValueError) as error:
            log.warning("dropped a %s frame from the console: %s", framing.CHANNEL_NAMES[frame.channel], error)

    async def _on_control(self, message: dict) -> None:
        kind = message["type"]
        if kind == "hello":
            if not framing.compatible(message):
                log.warning("the console speaks protocol %s, this agent %s: closing the channels",
                            message.get("protocol"), framing.PROTOCOL)
                self.close_local()
        elif kind == "resize" and self._terminal is not None:
            self._terminal.resize(int(message.get("cols", 80)), int(message.get("rows", 24)))
        elif kind == "screen.start":
            self._start_screen(float(message.get("max_fps") or DEFAULT_MAX_FPS))
        elif kind == "screen.stop":
            self._stop_screen()

    async def _refuse(self, what: str, reason: str) -> None:
        self.refusals += 1
        # Logged once per refusal burst would hide abuse; every refusal is one line the customer can audit.
        log.warning("refused %s from the consultant: %s", what, reason)
        await self._send(framing.control("refused", what=what, reason=reason))

    async def _inject(self, message: dict) -> None:
        from .inputs import Injector, InputError, parse

        try:
            event = parse(message)  # strictly checked before anything is injected (docs/protocol.md)
        except InputError as error:
            await self._refuse("input", str(error))
            return
        if self._injector is None:
            origin = (self._screen_info["left"], self._screen_info["top"]) if self._screen_info else (0, 0)
            try:
                self._injector = Injector(origin=origin)
            except Exception as error:  # no display, no XTEST: refused, the agent carries on
                log.warning("cannot inject input here: %s", error)
                await self._refuse("input", "this computer cannot take input from the consultant")
                return
        if not self.closed.is_set():
            self._injector.apply(event)

    # --- to the console ------------------------------------------------------------------------------------------
    def _terminal_output(self, data: bytes) -> None:
        if not self.closed.is_set():
            if self._mirror is not None:
                self._mirror(data)
            asyncio.ensure_future(self._send(framing.encode(framing.TERMINAL, data)))

    def _terminal_exit(self) -> None:
        log.info("the shell exited")
        self._terminal = None

    def _start_screen(self, max_fps: float) -> None:
        if self._screen_info is None or not scope_rules.may_see(self.scopes):
            return
        self._stop_screen()
        self._screen = ScreenStreamer(send=self._send_unless_closed, loop=asyncio.get_running_loop(), max_fps=max_fps)
        self._screen.start()

    async def _send_unless_closed(self, data: bytes) -> None:
        if not self.closed.is_set():
            await self._send(data)

    def _stop_screen(self) -> None:
        if self._screen is not None:
            self._screen.stop()
            self._screen = None

    # --- the kill switch -----------------------------------------------------------------------------------------
    def close_local(self) -> None:
        """Safe from any thread and from a signal handler: after it returns, nothing is seen or done remotely.

        It touches no socket and awaits nothing, so neither the network nor the consultant can delay it.
        """
        self.closed.set()
        if self._screen is not None:
            self._screen.stop()
        if self._injector is not None:
            self._injector.close()
        if self._terminal is not None:
            self._terminal.kill()

    def release(self) -> None:
        """On the event loop, after `close_local`: free the PTY."""
        self.close_local()
        if self._terminal is not None:
            self._terminal.close()
            self._terminal = None
        if self._injector is not None:
            self._injector.finish()
