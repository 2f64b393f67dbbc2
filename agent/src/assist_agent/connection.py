"""The agent's connection: outbound WebSocket, heartbeats, reconnect within the grace period, ending.

The gateway sends `attached` (scopes, consultant, resume_token), `peer_joined` and `peer_left` as text frames;
binary frames are protocol v1 (channels.py). Text frames are the gateway's alone (CONTRACT §3): the gateway never
forwards one from the consultant. The agent does not count on that alone: it takes its session id, resume token and
scopes from its first `attached` and keeps them for its whole life, so no later message can move it to another
session; a `scopes` message (the customer took one back) can only narrow them. After a network drop the agent reconnects with its resume token,
with backoff, for up to `grace_seconds`; the gateway keeps the session for as long (AGENT_GRACE_SECONDS) and
ends it with `end_reason: "agent_lost"` past it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from urllib.parse import quote, urlsplit, urlunsplit

import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import endings, scopes as scope_rules
from .channels import Channels
from .messages import Messages
from .status import StatusLine

log = logging.getLogger(__name__)

PING_INTERVAL = 5.0  # heartbeats: a silent network is noticed within PING_INTERVAL + PING_TIMEOUT
PING_TIMEOUT = 10.0
FIRST_DELAY, MAX_DELAY = 0.5, 5.0  # reconnect backoff: doubles after each failed try, with jitter
# A connection counts as back only once it has stayed up this long after `attached`: a gateway that attaches and
# closes at once (or refuses the upgrade) is a failed try, so neither the grace clock nor the backoff starts over.
STABLE_SECONDS = 3.0
FINAL_CLOSE_CODES = endings.FINAL_CLOSE_CODES


def agent_url(gateway: str, *, code: str | None = None, resume: str | None = None, session_id: str | None = None) -> str:
    """`https://host` or `wss://host` -> `wss://host/ws/v1/agent?code=...` (or `?session=...&resume=...`)."""
    parts = urlsplit(gateway if "://" in gateway else f"https://{gateway}")
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme)
    if scheme is None:
        raise ValueError(f"the gateway URL must start with https:// (or http:// for a test system), not {gateway!r}")
    if resume:
        query = f"session={quote(session_id or '')}&resume={quote(resume)}"
    else:
        query = f"code={quote(code or '')}"
    return urlunsplit((scheme, parts.netloc, parts.path.rstrip("/") + "/ws/v1/agent", query, ""))


class SessionEnded(Exception):
    def __init__(self, ending: endings.Ending) -> None:
        super().__init__(" ".join(ending.lines))
        self.ending = ending
        self.exit_code = ending.exit_code


class Agent:
    def __init__(self, *, gateway: str, code: str, grace_seconds: float = 30.0, status: StatusLine | None = None,
                 messages: Messages | None = None) -> None:
        self.gateway = gateway
        self.code = code
        self.grace_seconds = grace_seconds
        self.messages = messages or (status.messages if status is not None else Messages())
        self.status = status or StatusLine(messages=self.messages)
        self.scopes: frozenset[str] = frozenset()
        self.consultant: str | None = None
        self.connected_since: float | None = None
        self.resume_token: str | None = None
        self.session_id: str | None = None
        self.channels: Channels | None = None
        self._ws = None
        self._attached_at: float | None = None  # when this connection's `attached` came
        self._closed_with: tuple[int, str] | None = None  # a final close seen while sending
        self._ending = asyncio.Event()
        self._state = "state.connecting"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._texts: set[asyncio.Task] = set()  # the customer's own text frames to the gateway, on their way
        self._hinted = False  # the C key was offered once, when a consultant first joined with `control`

    # --- sending -------------------------------------------------------------------------------------------------
    async def send(self, data: bytes) -> None:
        ws = self._ws
        if ws is None:
            return  # between connections: the frame is lost, the console redraws on the next hello
        try:
            await ws.send(data)
        except ConnectionClosed as closed:
            # The receive loop notices too; the code is kept here as well, so a final one is never lost.
            if closed.rcvd is not None and self._closed_with is None:
                self._closed_with = (closed.rcvd.code, closed.rcvd.reason)

    # --- running -------------------------------------------------------------------------------------------------
    async def run(self) -> int:
        self._loop = asyncio.get_running_loop()
        ticker = asyncio.create_task(self._tick())
        connection = asyncio.create_task(self._connect_until_ended())
        ending = asyncio.create_task(self._ending.wait())
        try:
            await asyncio.wait({connection, ending}, return_when=asyncio.FIRST_COMPLETED)
            if ending.done():
                await self.tell_gateway()
                connection.cancel()
                await asyncio.gather(connection, return_exceptions=True)
                raise SessionEnded(endings.ended(self.messages, "customer"))
            return connection.result()
        except SessionEnded as ended:
            self._close_channels()
            ticker.cancel()
            log.info("the session is over for this agent (exit %d): %s", ended.exit_code, ended)
            self.status.close()
            for line in ended.ending.lines:
                self.status.say(line)
            return ended.exit_code
        finally:
            for task in (ticker, connection, ending):
                task.cancel()
            if self.channels is not None:
                self.channels.release()

    async def _connect_until_ended(self) -> int:
        lost_at: float | None = None
        delay = FIRST_DELAY
        while True:
            url = agent_url(self.gateway, code=self.code, resume=self.resume_token, session_id=self.session_id)
            code, reason = None, ""
            self._attached_at, self._closed_with = None, None
            try:
                async with websockets.connect(url, ping_interval=PING_INTERVAL, ping_timeout=PING_TIMEOUT,
                                              max_size=None, open_timeout=10) as ws:
                    self._ws = ws
                    await self._serve(ws)
                    code, reason = ws.close_code, ws.close_reason
            except (OSError, InvalidHandshake, asyncio.TimeoutError, ConnectionClosed) as error:
                if isinstance(error, InvalidStatus) and error.response.status_code < 500 and self.resume_token is None:
                    raise SessionEnded(endings.Ending(
                        (self.messages("refused.other", reason=str(error)), self.messages("access.closed")),
                        endings.EXIT_REFUSED)) from error
                reason = str(error) or type(error).__name__
                if isinstance(error, ConnectionClosed) and error.rcvd is not None:
                    # The gateway closed with a code (iterating a socket closed with anything but 1000 raises).
                    code, reason = error.rcvd.code, error.rcvd.reason
            finally:
                self._ws = None
            if code not in FINAL_CLOSE_CODES and self._closed_with is not None:
                code, reason = self._closed_with  # seen by a send while the receive loop saw only the drop
            if self._ending.is_set():
                raise SessionEnded(endings.ended(self.messages, "customer"))
            ending = endings.from_close(self.messages, code, reason)
            if ending is not None:
                raise SessionEnded(ending)
            if self.resume_token is None:  # never attached: nothing to resume
                raise SessionEnded(endings.unreachable(self.messages, reason or f"closed with {code}"))
            now = time.monotonic()
            if self._attached_at is not None and now - self._attached_at >= STABLE_SECONDS:
                lost_at, delay = now, FIRST_DELAY  # it was back for a while: a new drop, a new grace period
            lost_at = lost_at if lost_at is not None else now
            if now - lost_at > self.grace_seconds:
                self._close_channels()
                raise SessionEnded(endings.lost(self.messages, self.grace_seconds))
            self._set_state("state.reconnecting")
            log.warning("connection lost (%s, code %s); reconnecting in about %.1f s", reason, code, delay)
            await self._wait_or_end(delay * (0.5 + random.random()))
            delay = min(delay * 2, MAX_DELAY)

    async def _wait_or_end(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._ending.wait(), timeout=seconds)
        except asyncio.TimeoutError:
            return
        raise SessionEnded(endings.ended(self.messages, "customer"))

    async def _serve(self, ws) -> None:
        async for message in ws:
            if isinstance(message, bytes):
                if self.channels is not None:
                    await self.channels.on_frame(message)
                continue
            try:
                control = json.loads(message)
            except ValueError:
                continue
            await self._on_gateway(control)

    async def _on_gateway(self, control: dict) -> None:
        kind = control.get("type")
        if kind == "attached":
            if self.session_id is None:
                self.session_id = control.get("session_id") or None
                self.resume_token = control.get("resume_token") or None
            elif control.get("session_id") != self.session_id or (
                    control.get("resume_token") not in (None, self.resume_token)):
                # A resumed attach names our session and brings no token: anything else is not our gateway's.
                log.warning("ignored an `attached` for another session or with another resume token")
                return
            self._attached_at = time.monotonic()
            if self.channels is None:
                self.scopes = scope_rules.normalise(control.get("scopes"))
                self.channels = Channels(send=self.send, scopes=self.scopes, mirror=self.status.mirror)
                if self._ending.is_set():
                    self.channels.close_local()
            self.consultant = control.get("consultant") or self.consultant
            self._set_state("state.waiting")
        elif kind == "peer_joined" and self.channels is not None:
            self.consultant = control.get("consultant") or self.consultant
            self.connected_since = self.connected_since or time.monotonic()
            self._set_state("state.connected")
            if scope_rules.may_act(self.scopes) and not self._hinted:
                self._hinted = True
                self.status.say(self.messages("hint.take_back_control"))
            await self.channels.peer_joined()
        elif kind == "peer_left" and self.channels is not None:
            self.channels.peer_left()
            self._set_state("state.left")
        elif kind == "scopes" and self.channels is not None:
            # The customer took a scope back: from here on the agent refuses its frames too. Only ever narrower:
            # no message widens what the consent allowed at `attached` (that needs the customer, here, to agree).
            if self._narrow_to(scope_rules.narrowed(self.scopes, control.get("scopes")),
                               what="took a scope back"):
                self._show()

    # --- the customer's controls ---------------------------------------------------------------------------------
    def end_now(self) -> None:
        """The kill switch, from any thread or a signal handler: close every channel locally, at once."""
        self._close_channels()
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._ending.set)  # wakes the loop even from another thread

    def take_back_control(self) -> None:
        """The customer's C key, from the key thread: stop acting on the consultant's keystrokes and input here at
        once, then ask the gateway to take `control` back everywhere (it answers with `scopes`)."""
        if not self._narrow_to(self.scopes - {scope_rules.CONTROL}, what="took control back at the agent"):
            return
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._ask_gateway_to_take_back_control)

    def _narrow_to(self, scopes: frozenset[str], *, what: str) -> bool:
        """Allow only `scopes` (a subset of today's) from now on, here and in the channels' gate; whether that took
        anything away. Plain assignments: safe from the key thread as from the loop."""
        if scopes == self.scopes:
            return False
        self.scopes = scopes
        if self.channels is not None:
            self.channels.scopes = scopes
        log.info("the customer %s; the consultant may now: %s", what, ", ".join(sorted(scopes)) or "nothing")
        return True

    def _ask_gateway_to_take_back_control(self) -> None:
        self.status.say(self.messages("control.taken_back"))
        self._show()
        ws = self._ws
        if ws is not None:
            task = asyncio.get_running_loop().create_task(self._send_text({"type": "withdraw_scope",
                                                                             "scope": scope_rules.CONTROL}))
            self._texts.add(task)
            task.add_done_callback(self._texts.discard)

    async def _send_text(self, message: dict) -> None:
        try:
            await asyncio.wait_for(self._ws.send(json.dumps(message)), timeout=2)
        except (ConnectionClosed, asyncio.TimeoutError, OSError, AttributeError):
            pass  # not connected: the gateway's grace period or the customer's page decides

    def _close_channels(self) -> None:
        if self.channels is not None:
            self.channels.close_local()
        log.info("every channel is closed locally")

    async def tell_gateway(self) -> None:
        """After `end_now`, on the event loop: say bye and ask the gateway to end the session (ended_by customer)."""
        ws = self._ws
        if ws is None:
            return  # unreachable: the grace period ends the session on the gateway's side
        try:
            from . import framing

            await asyncio.wait_for(ws.send(framing.control("bye")), timeout=2)
            await asyncio.wait_for(ws.send(json.dumps({"type": "end_session"})), timeout=2)
            await asyncio.wait_for(ws.wait_closed(), timeout=5)
        except (ConnectionClosed, asyncio.TimeoutError, OSError):
            pass
        finally:
            await ws.close()

    def _set_state(self, state: str) -> None:
        self._state = state
        self._show()

    def _show(self) -> None:
        self.status.show(consultant=self.consultant, connected_since=self.connected_since, scopes=self.scopes,
                         state=self._state)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(1)
            self._show()
