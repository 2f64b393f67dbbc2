"""What every door ends in once it admitted an endpoint: its lease, `attached`, the attach and its audit, then the
pump of its frames to the peer until its socket closes, and the detach."""

from __future__ import annotations

import json
import logging

from assist_platform.audit import record_audit
from assist_platform.problems import Problem
from fastapi import WebSocket
from starlette.websockets import WebSocketDisconnect

from ..edge import client_address
from . import closecodes
from .admission import Refused, close_socket, refusal
from .endpoint import Endpoint
from .frames import CHANNEL_NAMES, refusal_reason, scope_needed
from .session import SessionRelay
from .share import browser_screen, share_frame_refusal

log = logging.getLogger(__name__)


class RelayServing:
    """The serving loop of the doors; the observer's part of it (`_observer_event`, `_refuse_all`) is in
    observer_door.py, an agent's text frames (`take_text`) in agent_door.py."""

    async def _serve(self, endpoint: Endpoint, *, hello: dict) -> None:
        if endpoint.session_id in self.ended:
            raise Refused(closecodes.SESSION_ENDED, self.ended[endpoint.session_id])
        try:
            await self.leases.acquire(endpoint)
        except Problem as problem:
            raise refusal(problem) from problem
        if endpoint.session_id in self.ended:  # cut while the lease was on its way
            self._cut_endpoint(endpoint, reason=self.ended[endpoint.session_id])
            return
        relay: SessionRelay | None = None
        audited = False
        try:
            # `attached` first: attaching may announce the pairing (`peer_joined`) at once when the other side is
            # already there, and a peer must know it is attached before it hears who joined.
            await endpoint.send_control(json.dumps({**hello, "scopes": list(endpoint.scopes),
                                                    "file_max_bytes": self.settings.file_transfer_max_bytes,
                                                    "recording": self.settings.recording_enabled}))
            attach = {"agent": self.attach_agent, "consultant": self.attach_consultant,
                      "observer": self.attach_observer, "share": self.attach_share}[endpoint.role]
            try:
                relay = await attach(endpoint)
            except Problem as problem:
                raise refusal(problem) from problem
            await self._audit(endpoint, "relay.connected")
            audited = True
            if endpoint.role == "observer":
                await self._observer_event(endpoint, joined=True)
                await self._refuse_all(endpoint)
                return
            await self._pump(relay, endpoint)
        finally:
            if endpoint.read_ahead is not None and endpoint.read_ahead.task is not None:
                endpoint.read_ahead.task.cancel()  # reading ahead for a hold that ended with the socket
            # An attach that failed half-way may have left the endpoint in its relay: a peer must not wait on it.
            relay = relay or self.relay_holding(endpoint)
            if relay is not None:
                await self.detach(relay, endpoint)
            else:
                await self.leases.release(endpoint)
            if audited:
                await self._audit(endpoint, "relay.disconnected")
                if endpoint.role == "observer":
                    await self._observer_event(endpoint, joined=False)

    async def _audit(self, endpoint: Endpoint, action: str) -> None:
        """The audit trail's connect and disconnect, each in a short transaction of its own."""
        try:
            await record_audit(
                self.runtime.database, action=action, actor=endpoint.who or endpoint.role,
                session_id=endpoint.session_id, client_address=client_address(endpoint.websocket),
                detail={"role": endpoint.role, "replica": self.replica_id, "scopes": list(endpoint.scopes)},
            )
        except Exception:
            if action == "relay.connected":
                raise  # fail closed: nobody is relayed without a record of it
            log.exception("could not audit %s of session %s", action, endpoint.session_id)

    async def _closed_if_too_big(self, websocket: WebSocket, size: int) -> bool:
        """A message over RELAY_MAX_MESSAGE_BYTES closes its socket (1009); whether it did."""
        if size <= self._max_message:
            return False
        await close_socket(websocket, closecodes.MESSAGE_TOO_BIG,
                           f"messages are limited to {self._max_message} bytes")
        return True

    async def _pump(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        """Frames of one endpoint to its peer. Only binary frames pass: a text frame is the gateway's alone (CONTRACT
        §3), so an endpoint's text is read (the agent's `end_session`) or refused, never forwarded; and a consultant
        whose consent lacks `control` has its keystrokes and input events refused here, on its own replica, whose
        lease carries the scopes, before they could reach any home (defence in depth: the agent refuses them too).
        A frame that cannot pass yet holds this loop in `forward`; what was read ahead meanwhile comes next."""
        websocket = endpoint.websocket
        # The scopes are the lease's, narrowed when the customer takes one back: asked of each frame that needs one.
        role = endpoint.role
        while True:
            try:
                if endpoint.read_ahead is None:
                    message = await websocket.receive()
                else:
                    message = await self.next_message(endpoint)
            except (WebSocketDisconnect, RuntimeError):
                return
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("bytes")
            text = message.get("text") if data is None else None
            if await self._closed_if_too_big(websocket, len(data) if data is not None else len(text or "")):
                return
            if endpoint.cut:
                continue  # drain until the close handshake completes; nothing passes
            if data is None:
                await self.take_text(endpoint, text or "")
                continue
            if role == "share":  # the customer's browser: its screen updates only, to the consultant on channel 6
                if (reason := share_frame_refusal(data)) is not None:
                    await self.refuse(endpoint, "share", reason)
                    continue
                data = browser_screen(data)
            needed = scope_needed(role, data)
            if needed is not None and not endpoint.allows(needed):
                await self.refuse(endpoint, CHANNEL_NAMES[data[0]], refusal_reason(needed))
                continue
            if data[0] == 5 and (reason := self.file_frame_refusal(endpoint, data)) is not None:
                await self.refuse(endpoint, "files", reason)  # over the size limit, not offered, malformed
                continue
            await self.forward(relay, endpoint, data)
