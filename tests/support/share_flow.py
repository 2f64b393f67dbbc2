"""The customer's browser share (issue #18) through the public interfaces, as its page speaks it: the share's socket
(Origin the gateway's own, the customer token in the first text frame), screen updates in the protocol's form, and a
tile that carries its own send time, so a test can tell which frames were sent after a terminate's 200."""

from __future__ import annotations

import json
import struct
import time
from dataclasses import dataclass

import httpx
import websockets
from public_api import HelpRequest, bearer, connect_consultant, login, next_control, request_help, ws_url
from websockets.asyncio.client import ClientConnection

SHARE_CHANNEL, BROWSER_SCREEN = 2, 6
OWN = "own"  # the Origin of the gateway's own page


async def connect_share(gateway: str, session_id: str, token: str | None, *, origin: str | None = OWN,
                        hello: dict | None = None) -> ClientConnection:
    """A share's socket: `origin` OWN (the gateway's own page), another origin, or None (no Origin header); the
    customer token sent as the page sends it (`{"type": "hello", "token": ...}`) unless `token` is None; `hello`
    sends that first frame instead."""
    headers = {"Origin": gateway.rstrip("/")} if origin == OWN else ({"Origin": origin} if origin else {})
    ws = await websockets.connect(f"{ws_url(gateway)}/ws/v1/share/{session_id}", additional_headers=headers,
                                  max_size=None)
    first = hello if hello is not None else ({"type": "hello", "token": token} if token is not None else None)
    if first is not None:
        try:
            await ws.send(json.dumps(first))
        except websockets.ConnectionClosed:
            pass  # refused before it was read (a foreign Origin): the caller reads the close
    return ws


def frame_begin(seq: int = 1, width: int = 1280, height: int = 720) -> bytes:
    return bytes((SHARE_CHANNEL, 0)) + struct.pack("!IHH", seq, width, height)


def tile(data: bytes, *, x: int = 0, y: int = 0, w: int = 64, h: int = 64) -> bytes:
    return bytes((SHARE_CHANNEL, 1)) + struct.pack("!HHHHB", x, y, w, h, 0) + data


def frame_end(seq: int = 1) -> bytes:
    return bytes((SHARE_CHANNEL, 2)) + struct.pack("!I", seq)


def stamped_tile(seq: int) -> bytes:
    """A tile whose data is its send time (ns since the epoch) and a sequence number (never decoded: the gateway
    reads a tile's header only)."""
    return tile(struct.pack("!QQ", time.time_ns(), seq))


def tile_stamp(frame: bytes) -> tuple[int, int]:
    """(send time, seq) of a stamped tile as the consultant got it (channel 6)."""
    assert frame[:2] == bytes((BROWSER_SCREEN, 1)), frame[:2]
    return struct.unpack("!QQ", frame[11:27])


@dataclass
class ShareScene:
    request: HelpRequest
    consultant: ClientConnection  # the assigned consultant's socket, on `consultant_gateway`
    token: str  # their login


async def consultant_waiting(gateway: str, *, consultant_gateway: str | None = None, username: str = "maria",
                             password: str = "a long enough password",
                             scopes: tuple[str, ...] = ("view", "control")) -> ShareScene:
    """A help request (no agent at all) claimed by `username`, whose console socket is open and attached."""
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:
        request = await request_help(client, scopes=scopes)
        token = await login(client, username, password)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    consultant = await connect_consultant(consultant_gateway or gateway, request.session_id, token)
    await next_control(consultant, "attached")
    return ShareScene(request=request, consultant=consultant, token=token)


async def sharing(gateway: str, scene: ShareScene) -> ClientConnection:
    """The customer's share of `scene`, attached and paired with its consultant (who is told)."""
    share = await connect_share(gateway, scene.request.session_id, scene.request.customer_token)
    attached = await next_control(share, "attached")
    assert attached["role"] == "share" and attached["session_id"] == scene.request.session_id
    await next_control(share, "peer_joined")
    assert (await next_control(scene.consultant, "share"))["active"] is True
    return share
