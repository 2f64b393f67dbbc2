"""The customer's browser's door, `/ws/v1/share/{session_id}` (issue #18): showing its screen, view only; what
the relay does for a share is in share.py."""

from __future__ import annotations

from fastapi import WebSocket

from ..edge import origin_allowed
from . import closecodes
from .admission import Refused, closing_on_failure
from .endpoint import Endpoint
from .share import NO_CONSULTANT_REASON, share_token


class ShareDoor:
    """The share's socket and its admission."""

    async def share_socket(self, websocket: WebSocket, session_id: str) -> None:
        await websocket.accept()
        async with closing_on_failure(websocket):
            endpoint, hello = await self._admit_share(websocket, session_id)
            await self._serve(endpoint, hello=hello)

    async def _admit_share(self, websocket: WebSocket, session_id: str) -> tuple[Endpoint, dict]:
        """The customer's page shows its screen to the consultant who joined (#18). Its credential is the session's
        customer token, in the socket's first text frame `{"type": "hello", "token": ...}` (a page cannot set a
        socket's headers, and a URL is logged on the way); only the gateway's own page opens it (its Origin)."""
        if not origin_allowed(websocket, self.settings.public_origin_list):
            raise Refused(closecodes.NOT_PERMITTED, "only the gateway's own page may share a screen")
        token = await share_token(websocket)
        owner = await self.session_of_customer_token(token) if token and self.session_of_customer_token else None
        if owner is None:
            raise Refused(closecodes.NOT_AUTHENTICATED, "send this session's customer token first")
        if owner != session_id:
            raise Refused(closecodes.NOT_PERMITTED, "this customer token belongs to another session")
        view = await self._running_session(session_id)
        if view.status not in ("assigned", "active") or not await self.consultant_present(session_id):
            raise Refused(closecodes.NOT_PERMITTED, NO_CONSULTANT_REASON)
        endpoint = Endpoint(role="share", session_id=session_id, websocket=websocket, who="customer")
        return endpoint, {"type": "attached", "session_id": session_id, "status": view.status, "role": "share"}
