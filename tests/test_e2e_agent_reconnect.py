"""An agent that drops off comes back with its resume token; one that stays away ends the session as agent_lost."""

from __future__ import annotations

import asyncio
import os

import httpx
import pytest
import websockets
from public_api import bearer, close_code, next_control, wait_for_status, ws_url
from relay_flow import next_binary, open_relay

pytestmark = pytest.mark.e2e

GRACE = "3"


async def resume(gateway: str, session_id: str, token: str):
    return await websockets.connect(f"{ws_url(gateway)}/ws/v1/agent?session={session_id}&resume={token}", max_size=None)


async def test_an_agent_back_within_the_grace_period_carries_on(start_system):
    system = start_system(gateways=2, extra_env={"AGENT_GRACE_SECONDS": GRACE})
    agent_gw, consultant_gw = system.gateway_urls
    request, agent, consultant, _ = await open_relay(system, agent_gateway=agent_gw, consultant_gateway=consultant_gw)
    token = agent.attached["resume_token"]
    agent.transport.abort()  # a network drop, not a goodbye
    await next_control(consultant, "peer_left")
    # Back on the other replica: the relay now lives there, beside the consultant.
    again = await resume(consultant_gw, request.session_id, token)
    attached = await next_control(again, "attached")
    assert attached["session_id"] == request.session_id and attached["resumed"] is True
    await next_control(again, "peer_joined")
    blob = b"\x01" + os.urandom(4095)  # channel 1 (terminal): 4 and 5 need scopes of their own
    await again.send(blob)
    assert await next_binary(consultant) == blob
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as customer:
        await asyncio.sleep(float(GRACE) + 1)  # past the grace period: the session must still be running
        view = (await customer.get(f"/api/v1/sessions/{request.session_id}",
                                   headers=bearer(request.customer_token))).json()
    assert view["status"] == "active"


async def test_an_agent_that_stays_away_ends_the_session_as_agent_lost(start_system):
    system = start_system(gateways=1, extra_env={"AGENT_GRACE_SECONDS": GRACE})
    gateway = system.gateway_url
    request, agent, consultant, _ = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    token = agent.attached["resume_token"]
    agent.transport.abort()
    code, reason = await close_code(consultant, timeout=float(GRACE) + 10)
    assert code == 4410 and "agent_lost" in reason
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
        ended = await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended")
    assert (ended["ended_by"], ended["end_reason"]) == ("system", "agent_lost")
    assert (await close_code(await resume(gateway, request.session_id, token)))[0] == 4410
