"""The customer's browser shows its screen (issue #18): a view-only source of pictures, with nothing installed.

A share is an endpoint of its own (role `share`, `/ws/v1/share/{session_id}`, share_door.py), opened by the customer's
page with the session's customer token, holding a consent lease of its own: a terminate, an end or a withdrawn
`view` cuts it with everyone else (4410) before the 200, on any replica. It sends screen updates in the agent's
channel-2 form (docs/protocol.md); the gateway checks their form (`share_frame_refusal`), rewrites them to channel 6
(`browser-screen`, so the console tells the two sources apart and a share can never pass for the agent) and passes
them to the session's consultant only. Nothing reaches a share but the gateway's own text frames: no route leads
to it (session.route), so no input can reach a browser, and observers get none of its pictures (view only by
construction; what the customer chose to show, they chose to show the consultant).

Pairing. The share and the session's consultant meet on one replica at once; the consultant hears
`{"type": "share", "active": true}` (`false` when the share goes), the share hears `peer_joined` (and `peer_left`)
and sends a whole frame after each `peer_joined`. The pairing starts the session as the agent's does
(`_activate_soon`: the billing clock runs, and frames pass only once the session is active, held until then).

Across replicas. The share's replica asks the consultant's to take it (`to_console.share_join`) until it answers
(every 0.25 s growing to 2 s, at once on a `console up`), then sends frames on `to_console.share_frame` and
`to_console.share_leave` when it goes. The consultant's replica takes one subscription per consultant socket
(`to_console.*`), answers, delivers, tells its consultant, and announces `console up` / `down` as the consultant
connects and leaves. Each side holds its own lease, so a cut reaches both.
"""

from __future__ import annotations

import asyncio
import json
import logging
import struct

from assist_platform.problems import Problem
from starlette.websockets import WebSocket, WebSocketDisconnect

from . import bridge
from .endpoint import Endpoint
from .session import SessionRelay

log = logging.getLogger(__name__)

SCREEN, BROWSER_SCREEN = 2, 6
_BROWSER_SCREEN = bytes((BROWSER_SCREEN,))
# Tile encodings a share may send (docs/protocol.md): 0, zlib-compressed RGB.
TILE_ENCODINGS = frozenset({0})
TILE_MAX = 64  # a tile is at most 64×64 pixels
SCREEN_MAX = 16384  # a picture's side, at most
ONLY_SCREEN_REASON = "a browser share sends only screen updates (channel 2)"
MALFORMED_REASON = "not a screen update of the protocol's form"
NO_CONSULTANT_REASON = "no consultant has joined the session yet"
_JOIN_PAUSE_MIN, _JOIN_PAUSE_MAX, _JOIN_TIMEOUT = 0.25, 2.0, 1.0


def share_frame_refusal(data: bytes) -> str | None:
    """Why a binary frame of a share is refused, or None when it passes: a share sends screen updates, channel 2,
    in their three forms (frame begin, tile, frame end: docs/protocol.md), nothing else."""
    if len(data) < 2 or data[0] != SCREEN:
        return ONLY_SCREEN_REASON
    kind = data[1]
    if kind == 0:  # frame begin: u32 seq, u16 width, u16 height
        if len(data) != 10:
            return MALFORMED_REASON
        width, height = struct.unpack_from("!HH", data, 6)
        return None if 0 < width <= SCREEN_MAX and 0 < height <= SCREEN_MAX else MALFORMED_REASON
    if kind == 1:  # tile: u16 x, u16 y, u16 w, u16 h, u8 encoding, at least a byte of data
        if len(data) < 12:
            return MALFORMED_REASON
        _x, _y, width, height = struct.unpack_from("!HHHH", data, 2)
        if not (0 < width <= TILE_MAX and 0 < height <= TILE_MAX) or data[10] not in TILE_ENCODINGS:
            return MALFORMED_REASON
        return None
    if kind == 2:  # frame end: u32 seq
        return None if len(data) == 6 else MALFORMED_REASON
    return MALFORMED_REASON


def browser_screen(data: bytes) -> bytes:
    """A share's screen update as the consultant gets it: on channel 6, the rest byte for byte."""
    return _BROWSER_SCREEN + data[1:]


def share_notice(active: bool) -> str:
    """What the consultant hears when the customer's browser starts or stops showing its screen."""
    return json.dumps({"type": "share", "active": active})


# How long a share's page has to send its token, and how long that first frame may be.
SHARE_HELLO_SECONDS, _SHARE_HELLO_MAX = 5.0, 1000


async def share_token(websocket: WebSocket) -> str | None:
    """The customer token of a share's first text frame `{"type": "hello", "token": "..."}`, or None (nothing in
    time, a binary frame, anything else)."""
    try:
        async with asyncio.timeout(SHARE_HELLO_SECONDS):
            message = await websocket.receive()
    except (TimeoutError, WebSocketDisconnect, RuntimeError):
        return None
    text = message.get("text")
    if not isinstance(text, str) or len(text) > _SHARE_HELLO_MAX:
        return None
    try:
        hello = json.loads(text)
    except ValueError:
        return None
    token = hello.get("token") if isinstance(hello, dict) and hello.get("type") == "hello" else None
    return token if isinstance(token, str) and token else None


_CONSULTANT_JOINED = json.dumps({"type": "peer_joined", "peer": "consultant"})
_CONSULTANT_LEFT = json.dumps({"type": "peer_left", "peer": "consultant"})


class ShareRelay:
    """The share side of `RelayCore` (hub.py): attaching and detaching shares, pairing them with the consultant
    here or on another replica, and the consultant's replica's side of that."""

    # --- the share's replica ---------------------------------------------------------------------------------
    async def consultant_present(self, session_id: str) -> bool:
        """Whether the session's consultant is connected, here or on another replica (a share waits for nobody)."""
        relay = self.sessions.get(session_id)
        if relay is not None and relay.consultant is not None and not relay.consultant.cut:
            return True
        try:
            reply = await self.nc().request(bridge.subject(session_id, bridge.TO_CONSOLE_SHARE_JOIN),
                                            b'{"probe": true}', timeout=_JOIN_TIMEOUT)
            return bool(json.loads(reply.data).get("ok"))
        except Exception:  # nobody answers: no consultant anywhere (or NATS away)
            return False

    async def attach_share(self, endpoint: Endpoint) -> SessionRelay:
        if not endpoint.allows("view"):
            raise Problem(403, "Forbidden", "The customer's consent does not include view.")
        nc = self._bridge_nc()
        relay = self.relay_for(endpoint.session_id)
        if relay.share is not None and not relay.share.cut:
            relay.share.cut_now(code=4409, reason="replaced by a newer share of the customer's screen")
        self._stop_looking_for_console(relay)
        relay.share, relay.share_console_remote = endpoint, False
        relay.subscriptions[endpoint] = [
            await nc.subscribe(bridge.subject(relay.session_id, bridge.CONSOLE), cb=self._on_console(relay, endpoint)),
        ]
        if relay.consultant is not None:
            await self._pair_share(relay)
        else:
            self._look_for_console(relay)
        return relay

    async def _pair_share(self, relay: SessionRelay) -> None:
        """The share and the consultant on this replica: the consultant is told, the session started, the share
        asked for a whole picture (its frames wait for the activation)."""
        share, consultant = relay.share, relay.consultant
        if share is None or consultant is None:
            return
        share.met_peer = True
        await consultant.send_control(share_notice(True))
        self._activate_soon(relay)
        await share.send_control(_CONSULTANT_JOINED)

    async def detach_share(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        if relay.share is not endpoint:
            return
        relay.share = None
        self._stop_looking_for_console(relay)
        if relay.consultant is not None:
            await relay.consultant.send_control(share_notice(False))
        elif relay.share_console_remote:
            await self._publish_to_bridge(bridge.subject(relay.session_id, bridge.TO_CONSOLE_SHARE_LEAVE), b"")
        relay.share_console_remote = False

    def _look_for_console(self, relay: SessionRelay) -> None:
        self._stop_looking_for_console(relay)
        relay.share_joiner = asyncio.create_task(self._join_remote_console(relay), name=f"share-{relay.session_id}")

    @staticmethod
    def _stop_looking_for_console(relay: SessionRelay) -> None:
        if relay.share_joiner is not None and relay.share_joiner is not asyncio.current_task():
            relay.share_joiner.cancel()
        relay.share_joiner = None

    async def _join_remote_console(self, relay: SessionRelay) -> None:
        """Ask the consultant's replica to take this share until it does, the share goes, or a consultant comes
        here (core NATS: a join or its reply may be lost with a node, so nobody else would ask again)."""
        share, pause = relay.share, _JOIN_PAUSE_MIN
        request = json.dumps({"replica": self.replica_id}).encode()
        while relay.share is share and share is not None and not share.cut and relay.consultant is None:
            try:
                reply = await self.nc().request(bridge.subject(relay.session_id, bridge.TO_CONSOLE_SHARE_JOIN),
                                                request, timeout=_JOIN_TIMEOUT)
                answer = json.loads(reply.data)
                joined, fresh = bool(answer.get("ok")), bool(answer.get("new"))
            except Exception:
                joined = fresh = False
            if joined and relay.share is share and not share.cut and relay.consultant is None:
                if fresh or not relay.share_console_remote:  # a consultant (a new socket of theirs) to greet
                    relay.share_console_remote = share.met_peer = True
                    self._activate_soon(relay)
                    share.nudge()
                    await share.send_control(_CONSULTANT_JOINED)  # the page sends a whole picture next
                return
            await asyncio.sleep(pause)
            pause = min(pause * 2, _JOIN_PAUSE_MAX)

    def _on_console(self, relay: SessionRelay, share: Endpoint):
        """The consultant's replica says its consultant came (`up`: join it) or went (`down`)."""
        async def handler(msg) -> None:
            if relay.share is not share or share.cut or relay.consultant is not None:
                return
            if msg.data == b"down" and relay.share_console_remote:
                relay.share_console_remote = False
                share.nudge()
                await share.send_control(_CONSULTANT_LEFT)
            if msg.data in (b"up", b"down"):
                self._look_for_console(relay)

        return handler

    # --- the consultant's replica ----------------------------------------------------------------------------
    async def consultant_meets_share(self, relay: SessionRelay, endpoint: Endpoint) -> None:
        """A consultant attached here: a share here is paired with them; a share elsewhere hears `console up` and
        joins over the bridge (`to_console.*`, one subscription for the socket)."""
        nc = self._bridge_nc()
        relay.subscriptions.setdefault(endpoint, []).append(
            await nc.subscribe(bridge.subject(relay.session_id, bridge.TO_CONSOLE_ANY), cb=self._to_console(relay)))
        relay.remote_share = None  # a remote share joins this socket anew
        if relay.share is not None:
            await self._pair_share(relay)
        await self._publish_to_bridge(bridge.subject(relay.session_id, bridge.CONSOLE), b"up")

    async def consultant_leaves_share(self, relay: SessionRelay) -> None:
        if relay.share is not None:
            await relay.share.send_control(_CONSULTANT_LEFT)
        if relay.remote_share is not None:
            relay.remote_share = None
            await self._publish_to_bridge(bridge.subject(relay.session_id, bridge.CONSOLE), b"down")

    def _to_console(self, relay: SessionRelay):
        handlers = {bridge.TO_CONSOLE_SHARE_JOIN: self._on_share_join,
                    bridge.TO_CONSOLE_SHARE_FRAME: self._on_share_frame,
                    bridge.TO_CONSOLE_SHARE_LEAVE: self._on_share_leave}

        async def handler(msg) -> None:
            handle = handlers.get(bridge.channel(msg.subject))
            if handle is not None:
                await handle(relay, msg)

        return handler

    async def _on_share_join(self, relay: SessionRelay, msg) -> None:
        consultant = relay.consultant
        there = consultant is not None and not consultant.cut
        try:
            request = json.loads(msg.data)
        except ValueError:
            return
        joining = there and not request.get("probe") and isinstance(request.get("replica"), str)
        fresh = joining and relay.remote_share is None  # asked again (its reply lost): said once
        if fresh:
            relay.remote_share = request["replica"]
        await msg.respond(json.dumps({"ok": there, "new": fresh}).encode())
        if fresh:
            await consultant.send_control(share_notice(True))

    @staticmethod
    async def _on_share_frame(relay: SessionRelay, msg) -> None:
        consultant = relay.consultant
        if relay.remote_share is None or consultant is None or not consultant.may_pass():
            return
        data = bridge.unpack(msg.data)
        if data is None or data[:1] != _BROWSER_SCREEN:
            return  # only a share's rewritten screen updates cross this way
        try:
            await consultant.send_bytes(data)
        except Exception:
            pass  # the consultant's own loop notices the broken socket

    @staticmethod
    async def _on_share_leave(relay: SessionRelay, _msg) -> None:
        if relay.remote_share is not None:
            relay.remote_share = None
            if relay.consultant is not None:
                await relay.consultant.send_control(share_notice(False))
