"""The relay on one gateway replica: endpoints by session, attaching and detaching them, and cutting.

The rest of `RelayCore` is one module per concern: frames.py (what passes, holding, refusals), replicas.py (the
bridge to a peer on another replica), presence.py (activation and the agent's absences, told to the session service),
observers.py (supervisors watching, view only), share.py (the customer's browser showing its screen); session.py
holds one session's state. The WebSocket doors are one module each (agent_door.py, consultant_door.py,
observer_door.py, share_door.py), with what they share in staff_doors.py (the staff login at the door and its watch),
admission.py (refusals and the running session) and serving.py (the serving loop and its pump); routes.py composes
them on `RelayCore` into `RelayHub`.
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from assist_contract.consent_rules import SCOPES
from assist_contract.consent import ScopeRequestView
from assist_contract.gateway import CutReply, CutRequest, cut_subject
from assist_contract.session import CHAT_POSTED
from assist_platform.envelope import CloudEvent
from assist_platform.problems import Problem

from ..domain import KeptEndings
from ..recording.recorder import Recordings
from . import bridge, closecodes
from .endpoint import Endpoint
from .files import FileRelay
from .frames import FramePolicy
from .leases import LeaseKeeper
from .observers import ObserverRelay
from .presence import SessionPresence
from .replicas import ReplicaBridge
from .session import SessionRelay, consultant_joined
from .share import ShareRelay

# How many ended sessions a replica remembers, to refuse a late reconnect without asking anyone.
_ENDED_MEMORY = 10_000


class RelayCore(FramePolicy, ReplicaBridge, SessionPresence, ObserverRelay, FileRelay, ShareRelay):
    """State and NATS plumbing of the relay; the WebSocket doors are composed on it in `routes.py`."""

    def __init__(self, *, settings, runtime) -> None:
        self.settings = settings
        self.runtime = runtime
        self.replica_id: str = settings.replica_id
        self.holder_subject = cut_subject(self.replica_id)
        self.sessions: dict[str, SessionRelay] = {}
        self.ended: OrderedDict[str, str] = OrderedDict()  # session_id -> close reason
        self.kept_endings = KeptEndings()  # endings answered while NATS was away (termination.py)
        self.leases = LeaseKeeper(
            nc_getter=self.nc, holder=self.holder_subject,
            renew_seconds=settings.lease_renew_seconds,
            command_timeout=settings.command_timeout_seconds,
            on_revoked=lambda endpoint: self._cut_endpoint(endpoint, reason=closecodes.ended_reason(None)),
            on_narrowed=self._tell_scopes,
        )
        self._tasks: list[asyncio.Task] = []
        self._graces: dict[str, asyncio.Task] = {}
        self._reports: set[asyncio.Task] = set()  # agent away/back reports on their way to the session service
        self._notices: set[asyncio.Task] = set()  # `scopes` control messages on their way to the endpoints
        # Set by the app: ends a session whose agent stayed away past the grace period (agent_lost).
        self.end_session_agent_lost: Callable[[str], Awaitable[None]] | None = None
        self._subscriptions: list = []
        self.init_files()  # file transfers seen (files.py)
        self.recordings = Recordings(settings=settings, runtime=runtime)  # each consultant connection's (#19)

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
        self._subscriptions.append(await runtime.nc.subscribe(CHAT_POSTED.subject, cb=self._on_chat_posted))
        self._tasks.append(asyncio.create_task(self.leases.run_renewals(), name="relay-lease-renewals"))
        self._tasks.append(asyncio.create_task(self.leases.run_watchdog(), name="relay-lease-watchdog"))
        self._tasks.append(asyncio.create_task(self.sweep_observers(), name="relay-observer-sweep"))
        self._tasks.append(asyncio.create_task(self.recordings.prepare(), name="relay-recordings-bucket"))

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
        await self.recordings.close()  # what the recorders hold, written while NATS and the database are there

    # --- cutting ---------------------------------------------------------------------------------------------
    async def _on_cut_request(self, msg) -> None:
        """The consent service revoked (or, with `scopes`, took one back): cut (narrow) before answering, so its
        reply (and our 200) means cut."""
        try:
            request = CutRequest.model_validate_json(msg.data)
        except ValueError:  # pydantic's ValidationError is one
            return
        if request.scope_request is not None:
            done = self.tell_scope_request(request.session_id, request.scope_request, scopes=request.scopes or [],
                                           lease_ids=request.lease_ids or [])
        elif request.scopes is not None:
            done = self.narrow_session(request.session_id, scopes=request.scopes, lease_ids=request.lease_ids or [])
        else:
            done = self._cut_session(request.session_id, reason=closecodes.ended_reason(request.reason),
                                     lease_ids=request.lease_ids or [])
        await msg.respond(CutReply(cut=done).model_dump_json().encode())

    def narrow_session(self, session_id: str, *, scopes, lease_ids: list[str] = ()) -> list[str]:
        """A scope taken back: this replica's endpoints of the session keep only `scopes`, at once; both sides are
        told with a `scopes` control message. The lease ids of the endpoints it holds."""
        targets = self._endpoints_of(session_id, lease_ids)
        for endpoint in targets:
            if endpoint.narrow(scopes):
                self._tell_scopes(endpoint)
        if "files" not in scopes and session_id in self._file_records:
            self.files_stopped(session_id, reason="scope_withdrawn", actor="customer")  # the agent deletes its part
        return [endpoint.lease_id for endpoint in targets]

    def tell_scope_request(self, session_id: str, scope_request: ScopeRequestView, *, scopes,
                           lease_ids: list[str] = ()) -> list[str]:
        """A step-up asked or answered: an approved one widens this replica's endpoints of the session to `scopes`
        (the consent service's set in force); otherwise `scopes` only narrows, as ever. Both sides are told the
        request (the customer's agent shows it and may answer it) and, when they changed, the scopes."""
        targets = self._endpoints_of(session_id, lease_ids)
        approved = scope_request.status == "approved"
        notice = json.dumps({"type": "scope_request", **scope_request.model_dump()})
        for endpoint in targets:
            if endpoint.widen(scopes) if approved else endpoint.narrow(scopes):
                self._tell_scopes(endpoint)
            self._send_soon(endpoint, notice)
        return [endpoint.lease_id for endpoint in targets]

    def narrow_endpoints_here(self, session_id: str, *, without: str) -> list[str]:
        """A withdrawal about to reach the consent service: narrow this replica's endpoints now (as a terminate
        cuts them first), before any cut request comes back here."""
        return self.narrow_session(session_id, scopes=[scope for scope in SCOPES if scope != without])

    def _tell_scopes(self, endpoint: Endpoint) -> None:
        """What the consent allows from now on, to the agent (which narrows its own gate) and the console."""
        self._send_soon(endpoint, json.dumps({"type": "scopes", "scopes": list(endpoint.scopes)}))

    def _send_soon(self, endpoint: Endpoint, notice: str) -> None:
        """A control message to `endpoint`, sent in order after those before it, not waited for."""
        task = asyncio.get_running_loop().create_task(endpoint.send_control(notice))
        self._notices.add(task)
        task.add_done_callback(self._notices.discard)

    def cut_session_locally(self, session_id: str, *, ended_by: str, reason: str | None = None) -> list[str]:
        return self._cut_session(session_id, reason=closecodes.ended_reason(reason, ended_by), lease_ids=[])

    def cut_endpoints_here(self, session_id: str, *, ended_by: str, reason: str) -> list[str]:
        """An ending about to revoke the consent: cut the session's endpoints on this replica now rather than
        when the consent service's cut request comes back here. Only a session with an endpoint here (it holds
        a lease, so the session has a consent to revoke) and not known ended (the close reason already given
        stands): a refused ending of a session without a relay here must leave nothing behind."""
        if session_id not in self.sessions or session_id in self.ended:
            return []
        return self.cut_session_locally(session_id, ended_by=ended_by, reason=reason)

    def _cut_session(self, session_id: str, *, reason: str, lease_ids: list[str]) -> list[str]:
        self._remember_ended(session_id, reason)
        cut: list[str] = []
        relay = self.sessions.get(session_id)
        if relay is not None:
            relay.settled.set()  # ended: it will not start on this relay, and frames held for it are dropped
        if session_id in self._file_records:
            self.files_stopped(session_id, reason="session_ended", actor="system")
        for endpoint in self._endpoints_of(session_id, lease_ids):
            self._cut_endpoint(endpoint, reason=reason)
            cut.append(endpoint.lease_id)
        return cut

    def _endpoints_of(self, session_id: str, lease_ids) -> set[Endpoint]:
        """This replica's endpoints of the session: those holding `lease_ids`, and the session's relay's (its
        observers and its browser share too: they are cut with everyone else)."""
        endpoints = set(self.leases.find(list(lease_ids)))
        relay = self.sessions.get(session_id)
        if relay is not None:
            endpoints.update(endpoint for endpoint in (relay.agent, relay.consultant, relay.share)
                             if endpoint is not None)
            endpoints.update(relay.observers)
        return endpoints

    def _cut_endpoint(self, endpoint: Endpoint, *, reason: str) -> None:
        endpoint.cut_now(code=closecodes.SESSION_ENDED, reason=reason)
        self.leases.forget(endpoint)

    def _remember_ended(self, session_id: str, reason: str) -> None:
        self.ended[session_id] = reason
        self.ended.move_to_end(session_id)
        while len(self.ended) > _ENDED_MEMORY:
            self.ended.popitem(last=False)

    # --- chat ---------------------------------------------------------------------------------------------------
    async def _on_chat_posted(self, msg) -> None:
        """A chat message of a session (core NATS: every replica hears it): its agent, consultant and observers
        here get it as the gateway's `chat` text frame; the pages' polling and history catch what a blink lost."""
        try:
            message = CHAT_POSTED.parse(CloudEvent.from_bytes(msg.data))
        except ValueError:
            return
        relay = self.sessions.get(message.session_id)
        if relay is None:
            return
        notice = json.dumps({"type": "chat", "message": message.model_dump(mode="json")}, ensure_ascii=False)
        for endpoint in self._endpoints_of(message.session_id, ()):
            self._send_soon(endpoint, notice)

    # --- attaching endpoints ---------------------------------------------------------------------------------
    def relay_for(self, session_id: str) -> SessionRelay:
        relay = self.sessions.get(session_id)
        if relay is None:
            relay = self.sessions[session_id] = SessionRelay(session_id=session_id)
        return relay

    def relay_holding(self, endpoint: Endpoint) -> SessionRelay | None:
        relay = self.sessions.get(endpoint.session_id)
        return relay if relay is not None and endpoint in (relay.agent, relay.consultant, relay.share) else None

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
        relay.observers_told = None  # a new socket of the agent hears who watches anew, nobody included
        relay.subscriptions[endpoint] = [
            await nc.subscribe(bridge.subject(relay.session_id, bridge.TO_HOME_ANY), cb=self._to_home(relay)),
        ]
        await nc.publish(bridge.subject(relay.session_id, "home"), b"up")
        await self._tell_observers(relay)  # before any frame of it reaches an observer; `[]` too, after a drop
        if relay.consultant is not None:
            await self._announce_pairing(relay)
        elif relay.remote_consultant is not None:
            # A newer socket of the agent, the remote consultant still joined: tell it now rather than count on
            # the consultant's replica hearing our `up` (core NATS, at most once).
            endpoint.met_peer = True
            await endpoint.send_control(consultant_joined(relay.remote_who))
        return relay

    async def attach_consultant(self, endpoint: Endpoint) -> SessionRelay:
        nc = self._bridge_nc()
        relay = self.relay_for(endpoint.session_id)
        if relay.consultant is not None and not relay.consultant.cut:
            # The newest window of the consultant wins: a reload must not lock them out.
            relay.consultant.cut_now(code=4409, reason="replaced by a newer connection")
        relay.consultant = endpoint
        endpoint.recorder = self.recordings.start_part(endpoint)  # before anything is sent to it: all is recorded
        await self.consultant_meets_share(relay, endpoint)  # the customer's browser showing its screen (#18)
        if relay.agent is not None:
            await self._announce_pairing(relay)
            return relay
        relay.remote_home = False  # this endpoint has not joined yet, whatever its predecessor had
        self._stop_looking_for_home(relay)  # it asks for the endpoint this one replaced, and would stop without us
        relay.subscriptions[endpoint] += [
            await nc.subscribe(bridge.subject(relay.session_id, "to_consultant"), cb=self._deliver_to(relay, "consultant")),
            await nc.subscribe(bridge.subject(relay.session_id, "home"), cb=self._on_home(relay)),
        ]
        self._look_for_home(relay)
        return relay

    async def _announce_pairing(self, relay: SessionRelay) -> None:
        agent, consultant = relay.agent, relay.consultant
        if agent is None or consultant is None:
            return
        agent.met_peer = consultant.met_peer = True
        await agent.send_control(consultant_joined(consultant.who))
        await consultant.send_control(json.dumps({"type": "peer_joined", "peer": "agent"}))
        self._activate_soon(relay)
        if relay.observers or relay.remote_observers:
            await self.tell_consultant_who_watches(relay)

    # --- detaching -------------------------------------------------------------------------------------------
    async def detach(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        if endpoint.recorder is not None:
            endpoint.recorder.finish(reason="the consultant disconnected")  # after a cut: as the cut said
        if relay.session_id in self.ended:
            # Its consent is revoked, or being revoked by the ending that cut it here: that ends the lease. A
            # release as well would queue for the consent service's one writer beside (or ahead of) that revoke.
            # Should the ending have been refused, the lease lapses unrenewed within one lease.
            self.leases.forget(endpoint)
        else:
            await self.leases.release(endpoint)
        if endpoint.role == "agent" and relay.agent is endpoint:
            relay.agent = None
            if relay.consultant is not None:
                await relay.consultant.send_control(json.dumps({"type": "peer_left", "peer": "agent"}))
            await self._publish_to_bridge(bridge.subject(relay.session_id, "home"), b"down")
            if relay.session_id not in self.ended:
                self._start_grace(relay.session_id)
        elif endpoint.role == "observer":
            await self.detach_observer(relay, endpoint)
        elif endpoint.role == "share":
            await self.detach_share(relay, endpoint)
        elif endpoint.role == "consultant" and relay.consultant is endpoint:
            relay.consultant = None
            await self.consultant_leaves_share(relay)
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
        if relay.empty():
            self.sessions.pop(relay.session_id, None)
