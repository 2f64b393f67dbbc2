"""The relay across replicas: a consultant whose agent is on another replica (its home) joins it over the core NATS
bridge (bridge.py), and frames cross at most once each way."""

from __future__ import annotations

import asyncio
import json
import logging

from . import bridge
from .frames import scope_needed
from .session import SessionRelay, consultant_joined

log = logging.getLogger(__name__)

# A consultant whose agent sits on another replica asks that home to take them at these intervals until it does.
_JOIN_PAUSE_MIN, _JOIN_PAUSE_MAX = 0.25, 2.0
_JOIN_TIMEOUT = 1.0  # the home answers a join at once, without I/O


class ReplicaBridge:
    """The cross-replica side of `RelayCore` (hub.py): joining a remote home, and what arrives over the bridge."""

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
        """What a remote consultant's replica sends the home, in order: join, frames, leave; and remote observers'
        announcements (observers.py)."""
        handlers = {bridge.TO_HOME_FRAME: self._deliver_to(relay, "agent"), bridge.TO_HOME_JOIN: self._on_join(relay),
                    bridge.TO_HOME_LEAVE: self._on_leave(relay),
                    bridge.TO_HOME_OBSERVER: self._on_remote_observer(relay)}

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
            await relay.agent.send_control(consultant_joined(relay.remote_who))
            self._activate_soon(relay)
            if relay.observers or relay.remote_observers:
                await self.tell_consultant_who_watches(relay)

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

    def _deliver_to(self, relay: SessionRelay, role: str):
        async def handler(msg) -> None:
            endpoint = relay.agent if role == "agent" else relay.consultant
            if endpoint is None or not endpoint.may_pass():
                return
            if role == "consultant" and (notice := bridge.unpack_notice(msg.data)) is not None:
                await endpoint.send_control(notice)  # the home's own text (who watches), never a peer's
                return
            if role == "agent" and not relay.started and not await self._until_started(relay, endpoint):
                return  # a remote consultant's frame, held at the home like a local one
            data = bridge.unpack(msg.data)
            if data is None:
                return  # not a binary frame (a replica from before text frames stopped crossing): never delivered
            # The sender is the other role; its replica refuses these already, this one does not count on it.
            needed = scope_needed("consultant" if role == "agent" else "agent", data)
            if needed is not None and not endpoint.allows(needed):
                return
            if role == "agent" and data[0] == 5:
                self.file_seen(relay.session_id, "consultant", relay.remote_who, data)  # files, seen at the home
            try:
                await endpoint.send_bytes(data)
            except Exception:
                pass  # the endpoint's own loop notices the broken socket

        return handler

    async def _publish_to_bridge(self, subject: str, payload: bytes) -> None:
        """A frame onto the bridge, at most once: while the client reconnects to NATS nats-py buffers it; with
        NATS gone for good it is dropped, like a frame lost in flight. Raising here would end the sender's
        socket without a close frame (uvicorn drops the connection of a handler that raised)."""
        try:
            await self._bridge_nc().publish(subject, payload)
        except Exception as exc:  # NATS gone, the reconnect buffer full, or the connection closed meanwhile
            log.debug("a bridged frame on %s was dropped: %s", subject, exc)
