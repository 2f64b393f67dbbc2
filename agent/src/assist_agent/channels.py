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
from .monitors import Monitor, MonitorRefused, chosen, shared_first
from .platforms import open_terminal
from .screen import DEFAULT_MAX_FPS, ScreenStreamer, list_monitors

log = logging.getLogger(__name__)


class Channels:
    def __init__(self, *, send: Callable[[bytes], Awaitable[None]], scopes: frozenset[str],
                 mirror: Callable[[bytes], None] | None = None,
                 on_monitor: Callable[[Monitor, int], None] | None = None) -> None:
        self._send = send
        # Which monitor the consultant sees (and of how many), for the customer's window: said at each change.
        self._on_monitor = on_monitor
        # The shell's output is shown in the agent's own window too: the customer sees what the consultant does.
        self._mirror = mirror
        self.scopes = scopes
        self.closed = threading.Event()  # set by the kill switch from any thread: nothing passes after it
        self._terminal = None
        self._screen: ScreenStreamer | None = None
        self._injector = None
        # The monitors there are to share, listed once, and the one shared (until the consultant picks another).
        self._monitors = list_monitors() if scope_rules.may_see(scopes) else ()
        self._monitor: Monitor | None = shared_first(self._monitors)
        self.refusals = 0
        # Channel 4's handler (clipboard_transfers.ClipboardTransfers), set by the connection: frames pass the scope
        # gate here first, so it sees only what the consent allows.
        self.clipboard = None
        # Channel 5's handler (filetransfer.transfers.FileTransfers), set by the connection, behind the same gate.
        self.files = None

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
            screen=({"width": self._monitor.width, "height": self._monitor.height} if self._monitor else None),
            monitors=[monitor.described() for monitor in self._monitors],
            monitor=self._monitor.index if self._monitor else None,
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
            elif frame.channel == framing.CLIPBOARD and self.clipboard is not None:
                await self.clipboard.on_frame(frame.payload)
            elif frame.channel == framing.FILES and self.files is not None:
                await self.files.on_payload(frame.payload)
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
        elif kind == "screen.select":
            await self._select_screen(message.get("monitor"))

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
            origin = self._monitor.origin if self._monitor else (0, 0)
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
        if self._monitor is None or not scope_rules.may_see(self.scopes):
            return
        self._stop_screen()
        self._screen = ScreenStreamer(send=self._send_unless_closed, loop=asyncio.get_running_loop(),
                                      monitor=self._monitor, max_fps=max_fps)
        self._screen.start()
        self._shared(self._monitor)

    async def _select_screen(self, requested) -> None:
        """The consultant picks the monitor to see (`screen.select`): only one of this computer's own list. A running
        stream switches to it on the same socket, its next frame a whole one, `screen.selected` just before it; not
        streaming, `screen.selected` at once. Pointer coordinates are relative to its top-left corner from then on."""
        try:
            monitor = chosen(self._monitors if scope_rules.may_see(self.scopes) else (), requested)
        except MonitorRefused as error:
            await self._refuse("screen.select", str(error))
            return
        self._monitor = monitor
        if self._injector is not None:
            self._injector.move_origin(monitor.origin)
        log.info("the consultant selected screen %d of %d (%dx%d at %d,%d)", monitor.index, len(self._monitors),
                 monitor.width, monitor.height, monitor.left, monitor.top)
        selected = framing.control("screen.selected", monitor=monitor.index, width=monitor.width,
                                   height=monitor.height)
        if self._screen is not None and self._screen.running:
            self._screen.switch(monitor, selected)
            self._shared(monitor)
        else:
            await self._send_unless_closed(selected)

    def _shared(self, monitor: Monitor) -> None:
        if self._on_monitor is not None:
            self._on_monitor(monitor, len(self._monitors))

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
        if self.files is not None:
            self.files.abort_now()  # no partial file stays behind, whatever the network does
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
