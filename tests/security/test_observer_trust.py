"""The observer's door under attack (issue #16): only a supervisor or an admin watches, only a running session,
from the gateway's own pages or with a token; a consultant (even the session's own), finance, a customer or nobody
is refused, and an observer's socket can never drive the agent."""

from __future__ import annotations

import json

import httpx
import pytest
import websockets
from identities import STAFF
from public_api import bearer, close_code, connect_observer, login, next_control, request_help, ws_url
from relay_flow import PASSWORD, next_binary, open_relay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

INPUT, SCREEN, TERMINAL = 3, 2, 1


async def _door(gateway: str, session_id: str, headers: dict) -> int | None:
    async with websockets.connect(f"{ws_url(gateway)}/ws/v1/observer/{session_id}",
                                  additional_headers=headers) as ws:
        try:
            await next_control(ws, "attached", timeout=10)
            return 1000
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code if closed.rcvd else None


async def test_only_supervisors_and_admins_watch_and_only_a_running_session(system):
    gateway = system.gateway_url
    request, agent, consultant, maria = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        tokens = {role: await login(client, username, PASSWORD) for role, username in STAFF.items()}
        waiting = await request_help(client)
    expected = {"consultant": 4403, "other_consultant": 4403, "finance": 4403, "supervisor": 1000, "admin": 1000}
    for role, code in expected.items():
        assert await _door(gateway, request.session_id, bearer(tokens[role])) == code, role
    assert await _door(gateway, request.session_id, bearer(request.customer_token)) == 4401
    assert await _door(gateway, request.session_id, {}) == 4401
    assert await _door(gateway, waiting.session_id, bearer(tokens["supervisor"])) == 4403  # nothing to watch yet
    # A page of another origin cannot open it with the supervisor's cookie.
    async with websockets.connect(
            f"{ws_url(gateway)}/ws/v1/observer/{request.session_id}",
            additional_headers={"Cookie": f"assist_token={tokens['supervisor']}",
                                "Origin": "https://evil.example"}) as ws:
        assert (await close_code(ws))[0] in (4401, 4403)
    await agent.close()
    await consultant.close()


async def test_an_observer_cannot_drive_the_agent_whatever_it_sends(system):
    gateway = system.gateway_url
    request, agent, consultant, _maria = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as client:
        sam = await login(client, STAFF["supervisor"], PASSWORD)
    observer = await connect_observer(gateway, request.session_id, sam)
    await next_control(observer, "attached")
    await next_control(agent, "observers")
    for forged in (bytes([INPUT]) + b'{"type":"pointer","x":1,"y":1}', bytes([TERMINAL]) + b"touch /tmp/pwned\n",
                   bytes([0]) + json.dumps({"type": "screen_start"}).encode(),
                   bytes([0]) + json.dumps({"type": "screen.select", "monitor": 2}).encode()):  # #17: not its pick
        await observer.send(forged)
    for forged in ({"type": "end_session"}, {"type": "withdraw_scope", "scope": "control"},
                   {"type": "scope_decision", "request_id": "x", "approve": True},
                   {"type": "observers", "observers": []}):
        await observer.send(json.dumps(forged))
    await consultant.send(bytes([SCREEN]) + b"marker")
    assert await next_binary(agent) == bytes([SCREEN]) + b"marker"  # nothing of the observer's came first
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
        view = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                   headers=bearer(request.customer_token))).json()
    assert view["status"] == "active" and view["scopes"] == ["view", "control"]
    for ws in (observer, agent, consultant):
        await ws.close()
