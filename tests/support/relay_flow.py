"""Opening a live relay through the public interfaces: request with consent, agent, claim, consultant, bytes."""

from __future__ import annotations

import asyncio
import os

import httpx
from public_api import bearer, connect_agent, connect_consultant, login, next_control, request_help, wait_for_status

PASSWORD = "a long enough password"


def _random_frame() -> bytes:
    """Random bytes whose first one (the channel) is not 4 or 5: the clipboard and files channels need scopes of their
    own (and files frames a form: docs/protocol.md), so the relay rightly refuses a random one there (issue #17)."""
    blob = os.urandom(int.from_bytes(os.urandom(2), "big") % 8192 + 1)
    return blob if blob[0] not in (4, 5) else bytes((blob[0] ^ 0x80,)) + blob[1:]


async def bytes_cross_both_ways(agent, consultant) -> None:
    for _ in range(20):
        blob = _random_frame()
        await agent.send(blob)
        assert await next_binary(consultant) == blob
        reply = _random_frame()
        await consultant.send(reply)
        assert await next_binary(agent) == reply


async def next_binary(ws, timeout: float = 5.0) -> bytes:
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                return message


async def claimed_request(gateway: str, consultant: str = "maria"):
    """A help request that `consultant` (an existing staff user) has claimed, its agent not there yet:
    (request, their token)."""
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        request = await request_help(client)
        token = await login(client, consultant, PASSWORD)
        claimed = await client.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
    return request, token


async def open_relay(system, *, agent_gateway: str, consultant_gateway: str,
                     scopes: tuple[str, ...] = ("view", "control")):
    """A waiting request (consenting to `scopes`), its agent, a claiming consultant and their relay, active and
    carrying bytes."""
    system.add_user("consultant", "maria", PASSWORD, check=False)  # the first relay of a test creates her
    async with httpx.AsyncClient(base_url=agent_gateway, timeout=10) as customer:
        request = await request_help(customer, scopes=scopes)
    agent = await connect_agent(agent_gateway, request.session_code)
    attached = await next_control(agent, "attached")
    agent.attached = attached  # its resume_token lets a test reconnect the same agent
    assert attached["session_id"] == request.session_id
    async with httpx.AsyncClient(base_url=consultant_gateway, timeout=10) as staff:
        token = await login(staff, "maria", PASSWORD)
        queue = (await staff.get("/api/v1/queue", headers=bearer(token))).json()
        assert request.session_id in [s["session_id"] for s in (queue if isinstance(queue, list) else queue["sessions"])]
        claimed = await staff.post(f"/api/v1/sessions/{request.session_id}/claim", headers=bearer(token))
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["status"] == "assigned" and claimed.json()["consultant"] == "maria"
    consultant = await connect_consultant(consultant_gateway, request.session_id, token)
    await next_control(consultant, "peer_joined")
    await next_control(agent, "peer_joined")
    async with httpx.AsyncClient(base_url=agent_gateway, timeout=10) as customer:
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active")
    if "control" in scopes:
        await bytes_cross_both_ways(agent, consultant)
    else:  # watching only: the screen crosses, nothing the consultant sends may drive the agent
        await agent.send(bytes([2]) + b"screen")
        assert await next_binary(consultant) == bytes([2]) + b"screen"
    return request, agent, consultant, token


