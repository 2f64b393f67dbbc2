"""The relay on one gateway replica: endpoints by session, pairing (local or across replicas), and cutting."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from assist_platform.commands import call_command
from assist_platform.envelope import rfc3339, utcnow
from assist_platform.problems import Problem
from assist_platform.retrying import retrying, stop_when, unavailable

from . import bridge, closecodes
from .endpoint import Endpoint, ReadAhead
from .leases import LeaseKeeper

log = logging.getLogger(__name__)

# How many ended sessions a replica remembers, to refuse a late reconnect without asking anyone.
_ENDED_MEMORY = 10_000
# A consultant whose agent sits on another replica asks that home to take them at these intervals until it does.
_JOIN_PAUSE_MIN, _JOIN_PAUSE_MAX = 0.25, 2.0
_JOIN_TIMEOUT = 1.0  # the home answers a join at once, without I/O
# The first byte of a binary frame is its channel (docs/protocol.md): 1 terminal keystrokes, 3 input events drive
# the customer's computer, so they need the consent's `control` scope. Bytes index as ints: no allocation per frame.
CHANNELS_NEEDING_CONTROL = frozenset({1, 3})
CHANNEL_NAMES = {0: "control", 1: "terminal", 2: "screen", 3: "input"}
VIEW_ONLY_REASON = "the customer's consent allows viewing only"
TEXT_REASON = "text frames are the gateway's alone: they are never forwarded"
# A sender is told of its refused frames (and the refusal logged) at most this often; all are counted.
_REFUSAL_NOTICE_SECONDS = 1.0
# While a frame is held, its sender's socket is read on only to hear it close or act on a text frame (the agent's
# `end_session`); binary frames read meanwhile queue behind the held one up to this many (or RELAY_MAX_MESSAGE_BYTES
# of them), and past that the sender is not read further until the hold ends (docs/relay.md, "Held frames").
HELD_FRAMES_MAX = 32
# An agent away/back report is retried this often (about a minute at 2 s) while messaging is away.
_REPORT_ATTEMPTS = 35


def _consultant_joined(who: str) -> str:
    """What the agent hears when its consultant connects, on this replica or another: it names them."""
    return json.dumps({"type": "peer_joined", "peer": "consultant", "consultant": who})


@dataclass(eq=False)
class SessionRelay:
    session_id: str
    agent: Endpoint | None = None
    consultant: Endpoint | None = None
    remote_consultant: str | None = None  # (home) the replica of a consultant that joined over NATS
    remote_who: str = ""  # (home) and their username
    remote_home: bool = False  # (consultant side) joined to a home on another replica
    # (consultant side) Looks for the home until it answers a join: the bridge is core NATS, so a join, its reply or
    # the home's `up` can be lost with a NATS node, and nobody else would ask again.
    joiner: asyncio.Task | None = None
    home_up: asyncio.Event = field(default_factory=asyncio.Event)
    # Per endpoint, not per role: a replaced endpoint's leaving must not take its successor's subscriptions along.
    subscriptions: dict[Endpoint, list] = field(default_factory=dict)
    activated: bool = False  # (home) asked the session service to make the session active
    # (home) No frame passes before the session service has the session `active`: bytes that crossed must be billed,
    # even when the session is ended while NATS is away and the activation still on its way (CONTRACT §4).
    started: bool = False
    settled: asyncio.Event = field(default_factory=asyncio.Event)  # started, or it never will be on this relay

    def nudge(self) -> None:
        """Pairing or activation changed: a held frame of either side looks again whether it may pass."""
        for endpoint in (self.agent, self.consultant):
            if endpoint is not None:
                endpoint.nudge()


class RelayCore:
    """State and NATS plumbing of the relay; the WebSocket routes live in `routes.py`."""

    def __init__(self, *, settings, runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.replica_id: str = settings.replica_id
        self.holder_subject = f"gateway.cut.{self.replica_id}"
        self.sessions: dict[str, SessionRelay] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()  # session_id -> close reason
        self.leases = LeaseKeeper(
            nc_getter=self.nc, holder=self.holder_subject,
            renew_seconds=settings.lease_renew_seconds,
            command_timeout=settings.command_timeout_seconds,
            on_revoked=lambda endpoint: self._cut_endpoint(endpoint, reason=closecodes.ended_reason(None)),
        )
        self._tasks: list[asyncio.Task] = []
        self._graces: dict[str, asyncio.Task] = {}
        self._reports: set[asyncio.Task] = set()  # agent away/back reports on their way to the session service
        # Set by the app: ends a session whose agent stayed away past the grace period (agent_lost).
        self.end_session_agent_lost: Callable[[str], Awaitable[None]] | None = None
        self._subscriptions: list = []

    def nc(self):
        nc = self.runtime.nc
        if nc is None or not nc.is_connected:
            raise Problem(503, "Service unavailable", "Messaging is not connected.")
        return nc

    def _bridge_nc(self):
        """The connection to subscribe and publish on the bridge with. While it reconnects, nats-py keeps both
        (subscriptions are made again, publishes wait in its buffer), so an endpoint attaches through a blink of
        NATS instead of being refused after it was told `attached`; only a connection that is gone refuses."""
        nc = self.runtime.nc
        if nc is None or nc.is_closed or nc.is_draining:
            raise Problem(503, "Service unavailable", "Messaging is not connected.")
        return nc

    # --- lifecycle -------------------------------------------------------------------------------------------
    async def on_connected(self, runtime) -> None:
        self._subscriptions.append(await runtime.nc.subscribe(self.holder_subject, cb=self._on_cut_request))
        self._tasks.append(asyncio.create_task(self.leases.run_renewals(), name="relay-lease-renewals"))
        self._tasks.append(asyncio.create_task(self.leases.run_watchdog(), name="relay-lease-watchdog"))

    async def close(self) -> None:
        for session_id in list(self._graces):
            self._cancel_grace(session_id)
        for task in self._reports:
            task.cancel()  # a report still retrying dies with the replica: that pause is billed (docs/finance.md)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for endpoint in self.leases.endpoints:
            await endpoint.close(code=1001, reason="gateway shutting down")
            await self.leases.release(endpoint)

    # --- cutting ---------------------------------------------------------------------------------------------
    async def _on_cut_request(self, msg) -> None:
        """The consent service revoked: cut before answering, so its reply (and our 200) means cut."""
        try:
            request = json.loads(msg.data)
            session_id = request["session_id"]
            reason = closecodes.ended_reason(request.get("reason"))
        except (ValueError, KeyError, TypeError):
            return
        cut = self._cut_session(session_id, reason=reason, lease_ids=request.get("lease_ids") or [])
        await msg.respond(json.dumps({"cut": cut}).encode())

    def cut_session_locally(self, session_id: str, *, ended_by: str, reason: str | None = None) -> list[str]:
        return self._cut_session(session_id, reason=closecodes.ended_reason(reason, ended_by), lease_ids=[])

    def _cut_session(self, session_id: str, *, reason: str, lease_ids: list[str]) -> list[str]:
        self._remember_ended(session_id, reason)
        cut: list[str] = []
        targets = set(self.leases.find(lease_ids))
        relay = self.sessions.get(session_id)
        if relay is not None:
            relay.settled.set()  # ended: it will not start on this relay, and frames held for it are dropped
            targets.update(endpoint for endpoint in (relay.agent, relay.consultant) if endpoint is not None)
        for endpoint in targets:
            self._cut_endpoint(endpoint, reason=reason)
            cut.append(endpoint.lease_id)
        return cut

    def _cut_endpoint(self, endpoint: Endpoint, *, reason: str) -> None:
        endpoint.cut_now(code=closecodes.SESSION_ENDED, reason=reason)
        self.leases.forget(endpoint)

    def _remember_ended(self, session_id: str, reason: str) -> None:
        self.ended[session_id] = reason
        self.ended.move_to_end(session_id)
        while len(self.ended) > _ENDED_MEMORY:
            self.ended.popitem(last=False)

    # --- attaching endpoints ---------------------------------------------------------------------------------
    def relay_for(self, session_id: str) -> SessionRelay:
        relay = self.sessions.get(session_id)
        if relay is None:
            relay = self.sessions[session_id] = SessionRelay(session_id=session_id)
        return relay

    def relay_holding(self, endpoint: Endpoint) -> SessionRelay | None:
        relay = self.sessions.get(endpoint.session_id)
        return relay if relay is not None and endpoint in (relay.agent, relay.consultant) else None

    async def attach_agent(self, endpoint: Endpoint) -> SessionRelay:
        nc = self._bridge_nc()
        relay = self.relay_for(endpoint.session_id)
        if relay.agent is not None and not relay.agent.cut:
            # Only the code's holder or its resume token get here: the newer socket is the agent back after a drop
            # whose old socket has not noticed yet.
            relay.agent.cut_now(code=4409, reason="replaced by the agent's newer connection")
        self._cancel_grace(endpoint.session_id)
        self._report_agent(endpoint.session_id, "back")  # here or after a drop seen on another replica
        relay.agent = endpoint
        relay.subscriptions[endpoint] = [
            await nc.subscribe(bridge.subject(relay.session_id, bridge.TO_HOME_ANY), cb=self._to_home(relay)),
        ]
        await nc.publish(bridge.subject(relay.session_id, "home"), b"up")
        if relay.consultant is not None:
            await self._announce_pairing(relay)
        elif relay.remote_consultant is not None:
            # A newer socket of the agent, the remote consultant still joined: tell it now rather than count on
            # the consultant's replica hearing our `up` (core NATS, at most once).
            endpoint.met_peer = True
            await endpoint.send_control(_consultant_joined(relay.remote_who))
        return relay

    async def attach_consultant(self, endpoint: Endpoint) -> SessionRelay:
        nc = self._bridge_nc()
        relay = self.relay_for(endpoint.session_id)
        if relay.consultant is not None and not relay.consultant.cut:
            # The newest window of the consultant wins: a reload must not lock them out.
            relay.consultant.cut_now(code=4409, reason="replaced by a newer connection")
        relay.consultant = endpoint
        if relay.agent is not None:
            await self._announce_pairing(relay)
            return relay
        relay.remote_home = False  # this endpoint has not joined yet, whatever its predecessor had
        self._stop_looking_for_home(relay)  # it asks for the endpoint this one replaced, and would stop without us
        relay.subscriptions[endpoint] = [
            await nc.subscribe(bridge.subject(relay.session_id, "to_consultant"), cb=self._deliver_to(relay, "consultant")),
            await nc.subscribe(bridge.subject(relay.session_id, "home"), cb=self._on_home(relay)),
        ]
        self._look_for_home(relay)
        return relay

    def _look_for_home(self, relay: SessionRelay) -> None:
        if relay.joiner is None or relay.joiner.done():
            relay.joiner = asyncio.create_task(self._join_remote_home(relay), name=f"join-{relay.session_id}")

    @staticmethod
    def _stop_looking_for_home(relay: SessionRelay) -> None:
        if relay.joiner is not None:
            relay.joiner.cancel()
            relay.joiner = None

    async def _join_remote_home(self, relay: SessionRelay) -> None:
        """Ask the home to take this consultant, again and again until it does, the consultant leaves, or the
        relay is ended. An `up` from the home asks at once; otherwise the pause grows to `_JOIN_PAUSE_MAX`.

        Asked while already joined (a new home announced itself), frames keep flowing meanwhile: they go to the
        session's subject, which whichever replica is the home receives."""
        consultant, pause, told_waiting = relay.consultant, _JOIN_PAUSE_MIN, False
        if consultant is None:
            return
        request = json.dumps({"replica": self.replica_id, "consultant": consultant.who}).encode()
        while relay.consultant is consultant and not consultant.cut:
            relay.home_up.clear()
            try:
                reply = await self.nc().request(bridge.subject(relay.session_id, bridge.TO_HOME_JOIN), request,
                                                timeout=_JOIN_TIMEOUT)
                joined = bool(json.loads(reply.data).get("ok"))
            except Exception:  # no home yet, NATS away, or the request or its reply lost with a node
                joined = False
            if joined and relay.consultant is consultant and not consultant.cut:
                consultant.met_peer = True
                if not relay.remote_home:
                    relay.remote_home = True
                    consultant.nudge()  # frames it sent before the join go to the home now, in order
                    await consultant.send_control(json.dumps({"type": "peer_joined", "peer": "agent"}))
                return
            if not told_waiting:
                told_waiting = True
                await consultant.send_control(json.dumps({"type": "waiting_for_agent"}))
            try:
                async with asyncio.timeout(pause):
                    await relay.home_up.wait()
                pause = _JOIN_PAUSE_MIN
            except TimeoutError:
                pause = min(pause * 2, _JOIN_PAUSE_MAX)

    def _to_home(self, relay: SessionRelay):
        """What a remote consultant's replica sends the home, in order: join, frames, leave."""
        handlers = {bridge.TO_HOME_FRAME: self._deliver_to(relay, "agent"), bridge.TO_HOME_JOIN: self._on_join(relay),
                    bridge.TO_HOME_LEAVE: self._on_leave(relay)}

        async def handler(msg) -> None:
            handle = handlers.get(bridge.channel(msg.subject))
            if handle is not None:
                await handle(msg)

        return handler

    def _on_join(self, relay: SessionRelay):
        async def handler(msg) -> None:
            request = json.loads(msg.data)
            if relay.agent is None or relay.agent.cut or relay.consultant is not None:
                await msg.respond(json.dumps({"ok": False}).encode())
                return
            # Asked again (its reply lost, or a new window of the consultant): the agent hears it again and says
            # hello again, which the console expects after a reload and takes in its stride otherwise.
            relay.remote_consultant = request.get("replica") or "remote"
            relay.remote_who = request.get("consultant") or ""
            relay.agent.met_peer = True
            await msg.respond(json.dumps({"ok": True}).encode())
            await relay.agent.send_control(_consultant_joined(relay.remote_who))
            self._activate_soon(relay)

        return handler

    def _on_leave(self, relay: SessionRelay):
        async def handler(_msg) -> None:
            relay.remote_consultant, relay.remote_who = None, ""
            relay.nudge()  # a frame of the agent held for the activation has nobody to go to now: dropped
            if relay.agent is not None:
                await relay.agent.send_control(json.dumps({"type": "peer_left", "peer": "consultant"}))

        return handler

    def _on_home(self, relay: SessionRelay):
        async def handler(msg) -> None:
            if msg.data == b"up":
                # Join even when joined: a `down` lost with a NATS node would leave us joined to a home that is
                # gone, and the new home would not know us. A join is idempotent at the home.
                relay.home_up.set()
                self._look_for_home(relay)
            elif msg.data == b"down":
                relay.remote_home = False
                if relay.consultant is not None:
                    await relay.consultant.send_control(json.dumps({"type": "peer_left", "peer": "agent"}))
                self._look_for_home(relay)

        return handler

    async def _announce_pairing(self, relay: SessionRelay) -> None:
        agent, consultant = relay.agent, relay.consultant
        if agent is None or consultant is None:
            return
        agent.met_peer = consultant.met_peer = True
        await agent.send_control(_consultant_joined(consultant.who))
        await consultant.send_control(json.dumps({"type": "peer_joined", "peer": "agent"}))
        self._activate_soon(relay)

    def _activate_soon(self, relay: SessionRelay) -> None:
        """Both sides are there: the billing clock starts now. Retried until the session service has it."""
        if relay.activated:
            return
        relay.activated = True
        at = rfc3339(utcnow())
        self._tasks.append(asyncio.create_task(self._activate(relay, at), name=f"activate-{relay.session_id}"))

    async def _activate(self, relay: SessionRelay, at: str) -> None:
        def gone() -> bool:
            return self.sessions.get(relay.session_id) is not relay or relay.session_id in self.ended

        policy = retrying(what=f"activating session {relay.session_id}", retry_on=unavailable, stop=stop_when(gone),
                          level=logging.INFO)
        try:
            async for attempt in policy:
                with attempt:
                    if gone():
                        return
                    await call_command(self.nc(), "cmd.session.activate", {"session_id": relay.session_id, "at": at},
                                       timeout=self.settings.command_timeout_seconds)
                    relay.started = True
        except Problem as problem:
            if problem.status != 503:
                log.warning("session %s not activated: %s", relay.session_id, problem.detail or problem.title)
        finally:
            relay.settled.set()
            relay.nudge()

    async def _until_started(self, relay: SessionRelay, source: Endpoint) -> bool:
        """Hold a frame (and so its sender: nothing more is read from it) until the session is active.

        Bounded by the sender's lease: a cut or lapsed endpoint stops waiting at its deadline at the latest.
        """
        while not relay.settled.is_set() and source.may_pass():
            try:
                async with asyncio.timeout(max(0.0, source.deadline - time.monotonic())):
                    await relay.settled.wait()
            except TimeoutError:
                pass  # the lease may have been renewed meanwhile: look again
        return relay.started

    # --- an agent that went away --------------------------------------------------------------------------
    def _start_grace(self, session_id: str) -> None:
        self._report_agent(session_id, "away")
        if session_id not in self._graces and self.end_session_agent_lost is not None:
            self._graces[session_id] = asyncio.create_task(self._grace(session_id), name=f"agent-grace-{session_id}")

    def _report_agent(self, session_id: str, kind: str) -> None:
        """Tell the session service when the agent's socket dropped or came back: the time away is not billed
        (docs/finance.md). Stamped now, sent in the background; idempotent, so retried while messaging is away."""
        at = rfc3339(utcnow())
        task = asyncio.create_task(self._send_agent_report(session_id, kind, at), name=f"agent-{kind}-{session_id}")
        self._reports.add(task)
        task.add_done_callback(self._reports.discard)

    async def _send_agent_report(self, session_id: str, kind: str, at: str) -> None:
        policy = retrying(what=f"recording agent {kind} of session {session_id}", retry_on=unavailable,
                          attempts=_REPORT_ATTEMPTS, level=logging.INFO)
        try:
            async for attempt in policy:
                with attempt:
                    await call_command(self.nc(), f"cmd.session.agent_{kind}", {"session_id": session_id, "at": at},
                                       timeout=self.settings.command_timeout_seconds)
        except Problem as problem:
            why = "messaging stayed away" if problem.status == 503 else problem.detail
            log.warning("agent %s of session %s not recorded: %s", kind, session_id, why)

    def _cancel_grace(self, session_id: str) -> None:
        task = self._graces.pop(session_id, None)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _grace(self, session_id: str) -> None:
        """The agent's socket dropped: it may come back (here or on another replica) within the grace period."""
        subscription = None
        nc = self.runtime.nc
        try:
            if nc is not None and nc.is_connected:
                async def back_elsewhere(msg) -> None:
                    if msg.data == b"up":
                        self._cancel_grace(session_id)

                subscription = await nc.subscribe(bridge.subject(session_id, "home"), cb=back_elsewhere)
            await asyncio.sleep(self.settings.agent_grace_seconds)
            self._graces.pop(session_id, None)
            if session_id not in self.ended and self.end_session_agent_lost is not None:
                log.info("the agent of session %s stayed away; ending it as agent_lost", session_id)
                await self.end_session_agent_lost(session_id)
        except Problem as problem:
            log.warning("session %s not ended after its agent was lost: %s", session_id, problem.detail)
        finally:
            if subscription is not None:
                try:
                    await subscription.unsubscribe()
                except Exception:
                    pass  # gone with the connection

    # --- forwarding ------------------------------------------------------------------------------------------
    def _deliver_to(self, relay: SessionRelay, role: str):
        async def handler(msg) -> None:
            endpoint = relay.agent if role == "agent" else relay.consultant
            if endpoint is None or not endpoint.may_pass():
                return
            if role == "agent" and not relay.started and not await self._until_started(relay, endpoint):
                return  # a remote consultant's frame, held at the home like a local one
            data = bridge.unpack(msg.data)
            if data is None:
                return  # not a binary frame (a replica from before text frames stopped crossing): never delivered
            if role == "agent" and not endpoint.may_act() and data and data[0] in CHANNELS_NEEDING_CONTROL:
                return  # the consultant's replica refuses these already; the home does not count on it
            try:
                await endpoint.send_bytes(data)
            except Exception:
                pass  # the endpoint's own loop notices the broken socket

        return handler

    async def refuse(self, endpoint: Endpoint, what: str, reason: str) -> None:
        """A frame of `endpoint` that is not forwarded: counted, and its sender told (with a gateway text frame
        `{"type": "refused", "what", "reason"}`) and the refusal logged at most once every
        `_REFUSAL_NOTICE_SECONDS`, so a flood of refused frames floods neither the log nor the sender's socket."""
        endpoint.refusals += 1
        now = time.monotonic()
        if now - endpoint.refusal_told_at < _REFUSAL_NOTICE_SECONDS:
            return
        endpoint.refusal_told_at = now
        log.warning("refused a %s frame from the %s of session %s (%d refused so far): %s", what, endpoint.role,
                    endpoint.session_id, endpoint.refusals, reason)
        await endpoint.send_control(json.dumps({"type": "refused", "what": what, "reason": reason}))

    async def forward(self, relay: SessionRelay, source: Endpoint, data: bytes) -> None:
        """One binary frame from `source` to its peer, local or remote, only while both leases hold. Text frames
        never come here: they are the gateway's alone (CONTRACT §3). A frame that cannot pass yet is held, and its
        sender with it (`_hold`)."""
        if not source.may_pass():
            return
        target = _route(relay, source)
        if target is None:
            if not await self._hold(relay, source):
                return  # ended, cut, lapsed, hung up, or the peer left: a held frame is dropped, never delivered
            target = _route(relay, source)
        if isinstance(target, str):
            await self._publish_to_bridge(bridge.subject(relay.session_id, target), bridge.pack(data))
            return
        if not target.may_pass():
            return
        try:
            await target.send_bytes(data)
        except Exception:
            pass  # the peer's socket broke: its own loop notices; the sender's socket is not at fault

    async def _hold(self, relay: SessionRelay, source: Endpoint) -> bool:
        """Hold a frame of `source` until it may pass (the other side joined, the session active): True then.

        Nothing more of the sender is forwarded meanwhile; its socket is read ahead only to hear it close and to
        act on its text frames (`_read_ahead`). False, and the frame dropped, as soon as it never will pass: the
        session is ended or the endpoint cut (a cut nudges at once), its lease lapsed, its socket closed, the
        session cannot start on this relay, or the peer it had met left (dropped then as ever: the peer that
        comes back is greeted anew)."""
        source.wake = wake = asyncio.Event()
        self._read_ahead(source)
        try:
            while source.may_pass() and not source.hung_up():
                if _route(relay, source) is not None:
                    return True
                if relay.settled.is_set() and not relay.started:
                    return False
                if source.met_peer and not _peer_there(relay, source):
                    return False
                wake.clear()
                try:
                    async with asyncio.timeout(max(0.0, source.deadline - time.monotonic())):
                        await wake.wait()
                except TimeoutError:
                    pass  # the lease may have been renewed meanwhile: look again
            return False
        finally:
            source.wake = None

    def _read_ahead(self, endpoint: Endpoint) -> None:
        ahead = endpoint.read_ahead
        if ahead is None:
            ahead = endpoint.read_ahead = ReadAhead()
        if not ahead.hung_up and (ahead.task is None or ahead.task.done()):
            ahead.task = asyncio.create_task(self._reading_ahead(endpoint, ahead), name=f"read-ahead-{endpoint.role}")

    async def _reading_ahead(self, endpoint: Endpoint, ahead: ReadAhead) -> None:
        """While a frame of `endpoint` is held: its socket's close ends the hold, a text frame is acted on at once
        (the agent's `end_session` ends the session, and so the hold), and anything else queues, in order, for the
        endpoint's loop, up to HELD_FRAMES_MAX frames or RELAY_MAX_MESSAGE_BYTES. Stops after the message it
        is waiting for once the hold is over."""
        max_bytes = self.settings.relay_max_message_bytes
        try:
            while endpoint.wake is not None and not ahead.full(max_bytes, HELD_FRAMES_MAX):
                message = await endpoint.websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                text = message.get("text") if message.get("bytes") is None else None
                if text is not None and len(text) <= max_bytes and not endpoint.cut:
                    await self.take_text(endpoint, text)
                else:
                    ahead.messages.append(message)
            else:
                return
        except Exception:  # the socket broke under the read (Starlette raises once it is gone)
            message = {"type": "websocket.disconnect", "code": 1006}
        ahead.hung_up = True
        ahead.messages.append(message)
        endpoint.nudge()

    @staticmethod
    async def next_message(endpoint: Endpoint) -> dict:
        """The endpoint's next message after a hold: what was read ahead first, then its socket again."""
        ahead = endpoint.read_ahead
        while not ahead.messages and ahead.task is not None and not ahead.task.done():
            await asyncio.wait({ahead.task})  # it stops after the message it is waiting for
        if ahead.messages:
            return ahead.messages.popleft()
        endpoint.read_ahead = None  # back to the hot path
        return await endpoint.websocket.receive()

    async def take_text(self, endpoint: Endpoint, text: str) -> None:
        """A text frame of an endpoint: never forwarded (CONTRACT §3). The routes read the agent's `end_session`."""
        await self.refuse(endpoint, "text", TEXT_REASON)

    async def _publish_to_bridge(self, subject: str, payload: bytes) -> None:
        """A frame onto the bridge, at most once: while the client reconnects to NATS nats-py buffers it; with
        NATS gone for good it is dropped, like a frame lost in flight. Raising here would end the sender's
        socket without a close frame (uvicorn drops the connection of a handler that raised)."""
        try:
            await self._bridge_nc().publish(subject, payload)
        except Exception as exc:  # NATS gone, the reconnect buffer full, or the connection closed meanwhile
            log.debug("a bridged frame on %s was dropped: %s", subject, exc)

    # --- detaching -------------------------------------------------------------------------------------------
    async def detach(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        await self.leases.release(endpoint)
        if endpoint.role == "agent" and relay.agent is endpoint:
            relay.agent = None
            if relay.consultant is not None:
                await relay.consultant.send_control(json.dumps({"type": "peer_left", "peer": "agent"}))
            await self._publish_to_bridge(bridge.subject(relay.session_id, "home"), b"down")
            if relay.session_id not in self.ended:
                self._start_grace(relay.session_id)
        elif endpoint.role == "consultant" and relay.consultant is endpoint:
            relay.consultant = None
            if relay.agent is not None:
                await relay.agent.send_control(json.dumps({"type": "peer_left", "peer": "consultant"}))
            elif relay.remote_home:
                await self._publish_to_bridge(bridge.subject(relay.session_id, bridge.TO_HOME_LEAVE), b"")
            relay.remote_home = False
            self._stop_looking_for_home(relay)
        for subscription in relay.subscriptions.pop(endpoint, []):
            try:
                await subscription.unsubscribe()
            except Exception:
                pass  # gone with the connection
        if relay.agent is None and relay.consultant is None:
            self.sessions.pop(relay.session_id, None)


def _route(relay: SessionRelay, source: Endpoint) -> Endpoint | str | None:
    """Where a frame of `source` goes now: its peer on this replica, a bridge channel (the peer is on another
    replica), or None: nowhere yet. The home (the agent's replica) lets nothing pass before the session is active;
    a consultant joined to a remote home is held there."""
    if source.role == "agent":
        if relay.consultant is not None:
            return relay.consultant if relay.started else None
        return "to_consultant" if relay.remote_consultant is not None and relay.started else None
    if relay.agent is not None:
        return relay.agent if relay.started else None
    return bridge.TO_HOME_FRAME if relay.remote_home else None


def _peer_there(relay: SessionRelay, source: Endpoint) -> bool:
    if source.role == "agent":
        return relay.consultant is not None or relay.remote_consultant is not None
    return relay.agent is not None or relay.remote_home
