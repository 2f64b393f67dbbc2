"""A supervisor's door, `/ws/v1/observer/{session_id}` (issue #16): watching a running session, view only; what
the relay does for observers is in observers.py."""

from __future__ import annotations

import logging

from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from ..domain import SESSION_OVERSEER_ROLES, token_digest
from ..service import record_watch
from . import closecodes
from .admission import Refused, closing_on_failure
from .endpoint import Endpoint
from .frames import OBSERVER_REASON

log = logging.getLogger(__name__)


class ObserverDoor:
    """The observer's socket, its admission, and what `_serve` does for an observer instead of the pump."""

    async def observer_socket(self, websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        async with closing_on_failure(websocket):
            endpoint, hello = await self._admit_observer(websocket, session_id)
            await self._serve(endpoint, hello=hello)

    async def _admit_observer(self, websocket: WebSocket, session_id: str) -> tuple[Endpoint, dict]:
        """A supervisor (or an admin) watches a running session, view only; the customer is told who first."""
        identity, token = await self._staff_at_door(websocket, "observer")
        if identity.role not in SESSION_OVERSEER_ROLES:
            raise Refused(closecodes.NOT_PERMITTED, "only a supervisor may watch a session")
        view = await self._running_session(session_id)
        if view.status != "active":
            raise Refused(closecodes.NOT_PERMITTED, "only a running session can be watched")
        endpoint = Endpoint(role="observer", session_id=session_id, websocket=websocket, who=identity.username,
                            credential=token_digest(token))
        return endpoint, {"type": "attached", "session_id": session_id, "status": view.status, "role": "observer"}

    async def _observer_event(self, endpoint: Endpoint, *, joined: bool) -> None:
        """`gateway.observer_joined` (fail closed: nobody watches unrecorded) or `gateway.observer_left`, through
        the outbox: the session service keeps who watches, which the customer's page shows."""
        try:
            await record_watch(self.runtime.database, session_id=endpoint.session_id,
                               observation_id=endpoint.lease_id, observer=endpoint.who, joined=joined)
        except Exception:
            if joined:
                raise
            log.exception("could not record that %s stopped watching session %s", endpoint.who, endpoint.session_id)

    async def _refuse_all(self, endpoint: Endpoint) -> None:
        """An observer only watches: whatever its socket sends (binary or text) is refused, never forwarded; it is
        read only to hear it close."""
        websocket = endpoint.websocket
        while True:
            try:
                message = await websocket.receive()
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            if await self._closed_if_too_big(websocket, len(message.get("bytes") or message.get("text") or "")):
                return
            if not endpoint.cut:
                await self.refuse(endpoint, "observer", OBSERVER_REASON)
