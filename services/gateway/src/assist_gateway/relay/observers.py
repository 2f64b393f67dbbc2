"""Observers (issue #16): a supervisor watches a running session, view only, and the customer is told who.

An observer is an endpoint of its own (role `observer`, its own consent lease, so a terminate or a withdrawn `view`
cuts it with everyone else). It receives a copy of what the agent sends the consultant and sends nothing: every
frame of its socket is refused (`observer_door.py`).

The agent is told first. On the agent's replica (the session's *home*) a local observer is added to the relay only
once the agent has been sent `{"type": "observers", "observers": [...]}` naming it; so no frame reaches an observer
the customer has not been shown. An observer on another replica announces itself to the home over the bridge
(`relay.<sid>.to_home.observer`, again every OBSERVER_HEARTBEAT_SECONDS, and `up: false` when it leaves); the home
tells the agent, then publishes copies of the agent's frames on `relay.<sid>.to_observers`, which that replica
delivers to its observers. A home that stops hearing an observer forgets it after three heartbeats (its replica
died), and tells the agent so.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time

from . import bridge
from .endpoint import Endpoint
from .session import SessionRelay

log = logging.getLogger(__name__)

OBSERVER_HEARTBEAT_SECONDS = 2.0
_FORGET_AFTER = 3 * OBSERVER_HEARTBEAT_SECONDS


def observers_message(names: list[str]) -> str:
    return json.dumps({"type": "observers", "observers": names})


class ObserverRelay:
    """The observer side of `RelayCore` (hub.py): attaching and detaching observers, copying the agent's frames to
    them, and telling the agent and the consultant who watches."""

    # --- who watches -----------------------------------------------------------------------------------------
    @staticmethod
    def observer_names(relay: SessionRelay, *, joining: Endpoint | None = None) -> list[str]:
        """Who watches this home's session: its local observers (and one about to join) and the remote ones."""
        local = [endpoint.who for endpoint in relay.observers if not endpoint.cut]
        if joining is not None:
            local.append(joining.who)
        remote = [who for who, _expires in relay.remote_observers.values()]
        return sorted(set(local + remote))

    async def _tell_observers(self, relay: SessionRelay, *, joining: Endpoint | None = None) -> None:
        """The agent (and a local consultant) hear who watches, whenever that changes; the agent first."""
        names = self.observer_names(relay, joining=joining)
        if names == relay.observers_told:
            return
        relay.observers_told = names
        if relay.agent is not None:
            await relay.agent.send_control(observers_message(names))
        await self.tell_consultant_who_watches(relay, names)

    async def tell_consultant_who_watches(self, relay: SessionRelay, names: list[str] | None = None) -> None:
        """The consultant hears it too, on this replica or over the bridge (the home's own text): on every change,
        and when they join a session somebody watches already."""
        message = observers_message(self.observer_names(relay) if names is None else names)
        if relay.consultant is not None:
            await relay.consultant.send_control(message)
        elif relay.remote_consultant is not None:
            await self._publish_to_bridge(bridge.subject(relay.session_id, "to_consultant"),
                                          bridge.pack_notice(message))

    # --- attaching -------------------------------------------------------------------------------------------
    async def attach_observer(self, endpoint: Endpoint) -> SessionRelay:
        nc = self._bridge_nc()
        relay = self.relay_for(endpoint.session_id)
        relay.subscriptions[endpoint] = [
            await nc.subscribe(bridge.subject(relay.session_id, bridge.TO_OBSERVERS), cb=self._to_observer(relay,
                                                                                                          endpoint)),
        ]
        if relay.agent is not None:
            await self._tell_observers(relay, joining=endpoint)  # told before the first frame reaches them
        relay.observers.add(endpoint)
        endpoint.heartbeat = asyncio.create_task(self._announce_observer(relay, endpoint),
                                                 name=f"observer-{relay.session_id}")
        return relay

    async def detach_observer(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        relay.observers.discard(endpoint)
        if endpoint.heartbeat is not None:
            endpoint.heartbeat.cancel()
            endpoint.heartbeat = None
            await self._publish_to_bridge(bridge.subject(relay.session_id, bridge.TO_HOME_OBSERVER),
                                          self._observer_note(endpoint, up=False))
        if relay.agent is not None:
            await self._tell_observers(relay)

    def _observer_note(self, endpoint: Endpoint, *, up: bool) -> bytes:
        return json.dumps({"replica": self.replica_id, "observation_id": endpoint.lease_id, "observer": endpoint.who,
                           "up": up}).encode()

    async def _announce_observer(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        """To whichever replica is the home, now and again: a home that comes later (the agent reconnected
        elsewhere) hears it within one heartbeat; the home ignores its own replica's notes."""
        subject = bridge.subject(relay.session_id, bridge.TO_HOME_OBSERVER)
        while not endpoint.cut:
            await self._publish_to_bridge(subject, self._observer_note(endpoint, up=True))
            await asyncio.sleep(OBSERVER_HEARTBEAT_SECONDS)

    # --- the home's side -------------------------------------------------------------------------------------
    def _on_remote_observer(self, relay: SessionRelay):
        async def handler(msg) -> None:
            try:
                note = json.loads(msg.data)
                replica, observation, who, up = note["replica"], note["observation_id"], note["observer"], note["up"]
            except (ValueError, KeyError, TypeError):
                return
            if replica == self.replica_id or not isinstance(who, str):
                return  # our own observers are local: they get the agent's frames without the bridge
            key = (str(replica), str(observation))
            if up:
                if key not in relay.remote_observers:
                    relay.remote_observers[key] = (who, time.monotonic() + _FORGET_AFTER)
                    await self._tell_observers(relay)  # told before the first frame is published for them
                relay.remote_observers[key] = (who, time.monotonic() + _FORGET_AFTER)
            elif relay.remote_observers.pop(key, None) is not None:
                await self._tell_observers(relay)

        return handler

    async def sweep_observers(self) -> None:
        """Forget remote observers whose replica stopped announcing them (it died with its sockets)."""
        while True:
            await asyncio.sleep(OBSERVER_HEARTBEAT_SECONDS)
            now = time.monotonic()
            for relay in list(self.sessions.values()):
                gone = [key for key, (_who, expires) in relay.remote_observers.items() if expires < now]
                for key in gone:
                    relay.remote_observers.pop(key, None)
                if gone and relay.agent is not None:
                    try:
                        await self._tell_observers(relay)
                    except Exception:
                        log.exception("telling the agent of %s who watches", relay.session_id)

    # --- frames ----------------------------------------------------------------------------------------------
    async def copy_to_observers(self, relay: SessionRelay, data: bytes) -> None:
        """A frame of the agent that went to its consultant, to the observers: here, and over the bridge."""
        for observer in list(relay.observers):
            if observer.may_pass():
                try:
                    await observer.send_bytes(data)
                except Exception:
                    pass  # its own loop notices the broken socket
        if relay.remote_observers:
            await self._publish_to_bridge(bridge.subject(relay.session_id, bridge.TO_OBSERVERS), bridge.pack(data))

    def _to_observer(self, relay: SessionRelay, endpoint: Endpoint):
        async def handler(msg) -> None:
            if relay.agent is not None or not endpoint.may_pass() or endpoint not in relay.observers:
                return  # with the agent here, its frames come without the bridge
            data = bridge.unpack(msg.data)
            if data is not None:
                try:
                    await endpoint.send_bytes(data)
                except Exception:
                    pass

        return handler
