"""The consultant's door, `/ws/v1/consultant/{session_id}` (CONTRACT §3): the console of the consultant the
session is assigned to."""

from __future__ import annotations

from fastapi import WebSocket

from ..domain import token_digest
from . import closecodes
from .admission import Refused, closing_on_failure
from .endpoint import Endpoint


class ConsultantDoor:
    """The consultant's socket and its admission."""

    async def consultant_socket(self, websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        async with closing_on_failure(websocket):
            endpoint, hello = await self._admit_consultant(websocket, session_id)
            await self._serve(endpoint, hello=hello)

    async def _admit_consultant(self, websocket: WebSocket, session_id: str) -> tuple[Endpoint, dict]:
        identity, token = await self._staff_at_door(websocket, "consultant")
        view = await self._running_session(session_id)
        if view.status not in ("assigned", "active") or view.consultant != identity.username:
            raise Refused(closecodes.NOT_PERMITTED, "this session is not assigned to you")
        endpoint = Endpoint(role="consultant", session_id=session_id, websocket=websocket, who=identity.username,
                            credential=token_digest(token))
        return endpoint, {"type": "attached", "session_id": session_id, "status": view.status}
