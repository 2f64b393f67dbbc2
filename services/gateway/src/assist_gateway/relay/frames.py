"""What passes between the two ends of a relay: binary frames only, while both leases hold and the session is
active. A frame that cannot pass yet is held with its sender (its socket read ahead only to hear it close and to act
on its text frames); a refused frame is counted and its sender told (docs/relay.md, "Held frames")."""

from __future__ import annotations

import asyncio
import json
import logging
import time

from . import bridge
from .endpoint import Endpoint, ReadAhead
from .session import SessionRelay, peer_there, route

log = logging.getLogger(__name__)

# The first byte of a binary frame is its channel (docs/protocol.md, "Scopes"). From the console, 1 terminal
# keystrokes and 3 input events drive the customer's computer (`control`); 4 clipboard and 5 files carry the
# customer's data, either way, under scopes of their own. Bytes index as ints: no allocation per frame.
SCOPE_NEEDED = {
    "consultant": {1: "control", 3: "control", 4: "clipboard", 5: "files"},
    "agent": {4: "clipboard", 5: "files"},
}
# Channels only the consultant gets: an observer watches the screen and the terminal, never the customer's data.
NOT_OBSERVED = frozenset({4, 5})
CHANNEL_NAMES = {0: "control", 1: "terminal", 2: "screen", 3: "input", 4: "clipboard", 5: "files"}
VIEW_ONLY_REASON = "the customer's consent allows viewing only"


def scope_needed(role: str, data: bytes) -> str | None:
    """The scope a binary frame of a `role` endpoint needs to pass, or None (the channel needs `view` alone)."""
    return SCOPE_NEEDED.get(role, {}).get(data[0]) if data else None


def refusal_reason(scope: str) -> str:
    """What the sender of a frame outside the consent is told (docs/protocol.md, `refused`)."""
    return VIEW_ONLY_REASON if scope == "control" else f"the customer's consent does not include {scope}"
TEXT_REASON = "text frames are the gateway's alone: they are never forwarded"
OBSERVER_REASON = "an observer only watches: nothing it sends is forwarded"
# A sender is told of its refused frames (and the refusal logged) at most this often; all are counted.
_REFUSAL_NOTICE_SECONDS = 1.0
# While a frame is held, its sender's socket is read on only to hear it close or act on a text frame (the agent's
# `end_session`); binary frames read meanwhile queue behind the held one up to this many (or RELAY_MAX_MESSAGE_BYTES
# of them), and past that the sender is not read further until the hold ends (docs/relay.md, "Held frames").
HELD_FRAMES_MAX = 32


class FramePolicy:
    """The frame side of `RelayCore` (hub.py), whose settings, bridge connection and relays it uses."""

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
        target = route(relay, source)
        if target is None:
            if not await self._hold(relay, source):
                return  # ended, cut, lapsed, hung up, or the peer left: a held frame is dropped, never delivered
            target = route(relay, source)
        needed = scope_needed(source.role, data)
        if needed is not None and not source.allows(needed):
            return  # the scope taken back while the frame was held: never delivered
        if data[0] == 5 and (source.role == "agent" or not isinstance(target, str)):  # files, seen at the home
            self.file_seen(relay.session_id, source.role,
                           relay.consultant.who if relay.consultant is not None else relay.remote_who, data)
        if isinstance(target, str):
            await self._publish_to_bridge(bridge.subject(relay.session_id, target), bridge.pack(data))
        else:
            if not target.may_pass():
                return
            if needed is not None and not target.allows(needed):
                # The other side narrowed first (its replica heard the withdrawal): it does not count on ours.
                return
            try:
                await target.send_bytes(data)
            except Exception:
                pass  # the peer's socket broke: its own loop notices; the sender's socket is not at fault
        if source.recorder is not None:  # the consultant's own frames, as forwarded (#19)
            source.recorder.from_console(data)
        if source.role == "agent" and (relay.observers or relay.remote_observers) and data[0] not in NOT_OBSERVED:
            await self.copy_to_observers(relay, data)  # what the consultant sees, observers see

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
                if route(relay, source) is not None:
                    return True
                if relay.settled.is_set() and not relay.started:
                    return False
                if source.met_peer and not peer_there(relay, source):
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
        """A text frame of an endpoint: never forwarded (CONTRACT §3). The agent's door reads its `end_session`."""
        await self.refuse(endpoint, "text", TEXT_REASON)

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
