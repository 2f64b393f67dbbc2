"""An observer, disclosed (issue #16): a supervisor watches a running session, view only. The agent is told who
watches before any frame reaches the observer, on the agent's replica or another; the observer sees what the
consultant sees and nothing it sends reaches anyone; the customer's page names them while they watch; their joining
and leaving are events and audit entries; a terminate cuts them with everyone else."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from public_api import (
    bearer, close_code, connect_observer, customer_view_until, events_for, login, next_control,
)
from relay_flow import PASSWORD, next_binary, open_relay

pytestmark = pytest.mark.e2e

INPUT, SCREEN, TERMINAL = 3, 2, 1


async def texts_until(ws, wanted: str, timeout: float = 10.0) -> tuple[dict, list]:
    """The first gateway text of type `wanted`, and any binary frame received before it (there must be none)."""
    early = []
    async with asyncio.timeout(timeout):
        while True:
            message = await ws.recv()
            if isinstance(message, bytes):
                early.append(message)
            elif json.loads(message).get("type") == wanted:
                return json.loads(message), early


@pytest.mark.parametrize("watch_on", [0, 1], ids=["on-the-agent-replica", "on-another-replica"])
async def test_a_supervisor_watches_disclosed_sees_what_the_consultant_sees_and_sends_nothing(start_system, watch_on):
    system = start_system(gateways=2, shared=True)
    agent_gw, consultant_gw = system.gateway_urls
    request, agent, consultant, _token = await open_relay(system, agent_gateway=agent_gw,
                                                           consultant_gateway=consultant_gw)
    system.add_user("supervisor", "sam", PASSWORD, check=False)
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as client:
        sam = await login(client, "sam", PASSWORD)
    observer = await connect_observer(system.gateway_urls[watch_on], request.session_id, sam)
    attached = await next_control(observer, "attached")
    assert attached["role"] == "observer" and attached["session_id"] == request.session_id

    # The customer's agent hears who watches; the consultant too.
    told, _ = await texts_until(agent, "observers")
    assert told["observers"] == ["sam"]
    assert (await next_control(consultant, "observers"))["observers"] == ["sam"]
    # From then on what the agent sends the consultant reaches the observer too.
    for n in range(3):
        frame = bytes([SCREEN]) + f"tile {n}".encode()
        await agent.send(frame)
        assert await next_binary(consultant) == frame
        assert await next_binary(observer) == frame
    # Nothing the observer sends reaches the agent (nor the consultant), binary or text.
    await observer.send(bytes([INPUT]) + b'{"type":"key","key":"a"}')
    await observer.send(bytes([TERMINAL]) + b"rm -rf ~\n")
    await observer.send(json.dumps({"type": "end_session"}))
    refused = await next_control(observer, "refused")
    assert refused["what"] == "observer"
    await consultant.send(bytes([SCREEN]) + b"marker")
    assert await next_binary(agent) == bytes([SCREEN]) + b"marker"
    await agent.send(bytes([TERMINAL]) + b"$ ")
    assert await next_binary(consultant) == bytes([TERMINAL]) + b"$ "

    view = await customer_view_until(agent_gw, request, lambda view: view.get("observers") == ["sam"])
    assert view["status"] == "active"
    await observer.close()
    assert (await next_control(agent, "observers"))["observers"] == []
    await customer_view_until(agent_gw, request, lambda view: view.get("observers") == [])

    events = [event["type"] for event, _ in await events_for(system.nats_url, "GATEWAY", request.session_id)]
    assert events.count("gateway.observer_joined") == 1 and events.count("gateway.observer_left") == 1
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as client:
        trail = (await client.get("/api/v1/audit", params={"session_id": request.session_id},
                                  headers=bearer(sam))).json()["entries"]
    watched = [(entry["action"], entry["actor"]) for entry in trail if entry["detail"].get("role") == "observer"]
    assert watched == [("relay.connected", "sam"), ("relay.disconnected", "sam")]
    await agent.close()
    await consultant.close()


async def test_a_terminate_cuts_the_observer_with_everyone_else(start_system):
    system = start_system(gateways=2, shared=True)
    agent_gw, consultant_gw = system.gateway_urls
    request, agent, consultant, _token = await open_relay(system, agent_gateway=agent_gw,
                                                           consultant_gateway=consultant_gw)
    system.add_user("supervisor", "sam", PASSWORD, check=False)
    async with httpx.AsyncClient(base_url=consultant_gw, timeout=10) as client:
        sam = await login(client, "sam", PASSWORD)
    observer = await connect_observer(consultant_gw, request.session_id, sam)  # another replica than the agent's
    await next_control(observer, "attached")
    await texts_until(agent, "observers")
    async with httpx.AsyncClient(base_url=agent_gw, timeout=15) as customer:
        ended = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                    headers=bearer(request.customer_token))
    assert ended.status_code == 200, ended.text
    assert (await close_code(observer))[0] == 4410
    assert (await close_code(agent))[0] == 4410
    again = await connect_observer(agent_gw, request.session_id, sam)
    assert (await close_code(again))[0] == 4410  # no watching an ended session
    view = await customer_view_until(agent_gw, request, lambda view: view["status"] == "ended")
    assert view["observers"] == []
