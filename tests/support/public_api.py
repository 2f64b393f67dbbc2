"""A client of the platform's public interfaces only (CONTRACT §2–§4), for the end-to-end tests and benchmarks."""

from __future__ import annotations

import asyncio
import json
import os
import struct
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import nats
import websockets
from websockets.asyncio.client import ClientConnection
from assist_platform.testing import eventually, stored_messages

CUSTOMER = {"name": "Иван Петров", "email": "ivan@example.com", "company": "Петров ООД", "phone": "+359888123456"}


@dataclass
class HelpRequest:
    session_id: str
    session_code: str
    customer_token: str


def ws_url(http_url: str) -> str:
    return http_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)


async def request_help(client: httpx.AsyncClient, *, service_type: str = "consultation",
                       scopes: tuple[str, ...] = ("view", "control")) -> HelpRequest:
    terms_response = await client.get("/api/v1/terms")
    assert terms_response.status_code == 200, f"{terms_response.status_code} {terms_response.text}"
    terms = terms_response.json()
    response = await client.post("/api/v1/help-requests", json={
        "customer": CUSTOMER,
        "service_type": service_type,
        "description": "Принтерът не печата",
        "consent": {"accepted": True, "terms_version": terms["version"], "scopes": list(scopes)},
    })
    assert response.status_code == 201, f"{response.status_code} {response.text}"
    body = response.json()
    assert body["status"] == "waiting"
    return HelpRequest(body["session_id"], body["session_code"], body["customer_token"])


async def login(client: httpx.AsyncClient, username: str, password: str) -> str:
    response = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def connect_agent(gateway_url: str, code: str) -> ClientConnection:
    return await websockets.connect(f"{ws_url(gateway_url)}/ws/v1/agent?code={code}", max_size=None)


async def connect_consultant(gateway_url: str, session_id: str, token: str) -> ClientConnection:
    return await websockets.connect(
        f"{ws_url(gateway_url)}/ws/v1/consultant/{session_id}", additional_headers=bearer(token), max_size=None
    )


async def connect_observer(gateway_url: str, session_id: str, token: str) -> ClientConnection:
    return await websockets.connect(
        f"{ws_url(gateway_url)}/ws/v1/observer/{session_id}", additional_headers=bearer(token), max_size=None
    )


async def paired(client: httpx.AsyncClient, gateway_url: str, token: str):
    """A new help request, a raw agent socket with its code, the request claimed with `token` and the consultant's
    socket, both told of the pairing: (request, agent, consultant)."""
    request = await request_help(client)
    agent = await connect_agent(gateway_url, request.session_code)
    await next_control(agent, "attached")
    claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
    assert claimed.status_code == 200, claimed.text
    consultant = await connect_consultant(gateway_url, request.session_id, token)
    await next_control(consultant, "peer_joined")
    await next_control(agent, "peer_joined")
    return request, agent, consultant


async def next_control(ws: ClientConnection, wanted_type: str, timeout: float = 10.0) -> dict:
    """The next JSON control message of `wanted_type`, skipping others."""
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, str):
                control = json.loads(message)
                if control.get("type") == wanted_type:
                    return control


async def console_keys_then_marker(consultant: ClientConnection, agent: ClientConnection,
                                   timeout: float = 10.0) -> str:
    """The consultant sends a keystroke (channel 1), then a channel-0 marker: "marker first" when the keystroke
    never reached the agent (one sender's frames keep their order), "keystroke passed" when it did."""
    marker = b'\x00{"type":"resize","cols":81,"rows":24}'
    await consultant.send(b"\x01id\n")
    await consultant.send(marker)
    async with asyncio.timeout(timeout):
        while True:
            message = await agent.recv()
            if isinstance(message, bytes):
                return "marker first" if message == marker else "keystroke passed"


async def close_code(ws: ClientConnection, timeout: float = 10.0) -> tuple[int | None, str]:
    """Drain until the server closes; (code, reason)."""
    async with asyncio.timeout(timeout):
        try:
            while True:
                await ws.recv()
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is None:
                return None, ""
            return closed.rcvd.code, closed.rcvd.reason


async def refused_with(url_factory, timeout: float = 10.0) -> int | None:
    """Open a socket that the gateway is expected to refuse; the close code it gave."""
    ws = await url_factory()
    code, _reason = await close_code(ws, timeout)
    return code


async def wait_for_status(client: httpx.AsyncClient, session_id: str, headers: dict, status: str,
                          timeout: float = 10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = (await client.get(f"/api/v1/sessions/{session_id}", headers=headers)).json()
        if body.get("status") == status:
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"session {session_id} is {body.get('status')}, not {status}: {body}")
        await asyncio.sleep(0.05)


def stamped_frame(seq: int, size: int = 1024) -> bytes:
    """A frame that carries its own send time (ns since the epoch) and sequence number."""
    header = struct.pack("!QQ", time.time_ns(), seq)
    return header + os.urandom(max(0, size - len(header)))


def frame_stamp(frame: bytes) -> tuple[int, int]:
    sent_ns, seq = struct.unpack("!QQ", frame[:16])
    return sent_ns, seq


@dataclass
class StampedStream:
    """The stamps (send time, sequence number) of the frames that reached the consultant, and, once the stream's
    block has ended, how the consultant's socket and the sender's closed: (code, reason)."""
    received: list[tuple[int, int]]
    consultant_closed: tuple[int | None, str] = (None, "")
    sender_closed: tuple[int | None, str] = (None, "")

    def sent_after(self, answered_ns: int) -> list[int]:
        """The sequence numbers of the frames that reached the consultant though sent after `answered_ns`."""
        return [seq for sent_ns, seq in self.received if sent_ns > answered_ns]


@asynccontextmanager
async def stamped_stream(sender: ClientConnection, consultant: ClientConnection, *, stamped=stamped_frame,
                         stamp=frame_stamp):
    """The sender keeps sending stamped frames (`stamped(seq)`) and the consultant collects their stamps
    (`stamp(frame)`) while the block ends the session; after it, both sockets' closes are waited for and kept."""
    stream = StampedStream(received=[])
    stop = asyncio.Event()

    async def sender_streams() -> None:
        seq = 0
        while not stop.is_set():
            try:
                await sender.send(stamped(seq))
            except Exception:
                return
            seq += 1
            await asyncio.sleep(0.001)

    async def consultant_collects() -> tuple[int | None, str]:
        try:
            while True:
                message = await consultant.recv()
                if isinstance(message, bytes):
                    stream.received.append(stamp(message))
        except Exception as closed:
            rcvd = getattr(closed, "rcvd", None)
            return (rcvd.code, rcvd.reason) if rcvd else (None, "")

    streaming = asyncio.create_task(sender_streams())
    collecting = asyncio.create_task(consultant_collects())
    try:
        yield stream
        stream.consultant_closed = await asyncio.wait_for(collecting, 10)
        stream.sender_closed = await close_code(sender)
    finally:
        stop.set()
        collecting.cancel()
        await asyncio.gather(streaming, collecting, return_exceptions=True)


async def events_for(nats_url: str, stream: str, session_id: str) -> list[tuple[dict, dict]]:
    """Every (CloudEvent, headers) stored in `stream` whose subject is `session_id`."""
    nc = await nats.connect(nats_url)
    try:
        found = []
        for msg in await stored_messages(nc.jetstream(), stream):
            event = json.loads(msg.data)
            if event.get("subject") == session_id:
                found.append((event, dict(msg.headers or {})))
        return found
    finally:
        await nc.close()


async def customer_view_until(gateway: str, request: HelpRequest, predicate) -> dict:
    """The customer's view of their session once `predicate(view)` holds (it follows events: a moment later)."""
    async def shown() -> dict | None:
        async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
            view = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                       headers=bearer(request.customer_token))).json()
        return view if predicate(view) else None

    return await eventually(shown, what="the customer's view of the session to show it")
