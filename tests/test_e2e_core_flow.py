"""The core flow end to end, through public interfaces only: consent, claim, relay, and a terminate that cuts."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from public_api import (
    bearer,
    close_code,
    connect_agent,
    connect_consultant,
    events_for,
    next_control,
    refused_with,
    stamped_stream,
    wait_for_status,
)
from relay_flow import PASSWORD, bytes_cross_both_ways, claimed_request, open_relay

pytestmark = pytest.mark.e2e

EXPECTED_EVENTS = {
    "CONSENT": {"consent.granted", "consent.revoked"},
    "SESSION": {"session.requested", "session.assigned", "session.started", "session.ended"},
}


async def _terminate_while_agent_streams(request, agent, consultant, terminate_gateway: str) -> None:
    """The agent keeps sending stamped frames; none stamped after the 200 may reach the consultant."""
    async with stamped_stream(agent, consultant) as stream:
        await asyncio.sleep(0.3)  # let real traffic flow before the terminate
        frames_before = len(stream.received)
        async with httpx.AsyncClient(base_url=terminate_gateway, timeout=15) as customer:
            response = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                           headers=bearer(request.customer_token))
            answered_ns = time.time_ns()
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ended" and response.json()["ended_by"] == "customer"
    consultant_code, consultant_reason = stream.consultant_closed
    assert frames_before > 10, "the agent's stream did not reach the consultant before the terminate"
    late = stream.sent_after(answered_ns)
    assert late == [], f"frames sent after the 200 reached the consultant: {late[:10]}"
    assert consultant_code == 4410 and "customer" in consultant_reason
    assert stream.sender_closed[0] == 4410


async def _reconnects_are_refused(system, request, token, agent_gateway, consultant_gateway) -> None:
    assert await refused_with(lambda: connect_agent(agent_gateway, request.session_code)) in (4410, 4403)
    assert await refused_with(lambda: connect_consultant(consultant_gateway, request.session_id, token)) == 4410


async def _events_arrived_once(system, session_id: str) -> None:
    for stream, expected in EXPECTED_EVENTS.items():
        deadline = time.monotonic() + 10
        while True:
            events = await events_for(system.nats_url, stream, session_id)
            types = [event["type"] for event, _ in events]
            if set(types) >= expected or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
        assert sorted(types) == sorted(expected), f"{stream}: {types}"
        for event, headers in events:
            assert headers.get("Nats-Msg-Id") == event["id"]
            assert event["specversion"] == "1.0" and event["subject"] == session_id


async def test_customer_terminate_cuts_the_relay_and_every_event_is_published(start_system):
    system = start_system(gateways=1, shared=True)
    gateway = system.gateway_urls[0]
    request, agent, consultant, token = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    await _terminate_while_agent_streams(request, agent, consultant, gateway)
    await _reconnects_are_refused(system, request, token, gateway, gateway)
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
        ended = await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended")
        assert ended["ended_by"] == "customer" and ended["started_at"] and ended["ended_at"]
        again = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                    headers=bearer(request.customer_token))
        assert again.status_code == 200 and again.json()["ended_by"] == "customer"
    await _events_arrived_once(system, request.session_id)


@pytest.mark.parametrize("terminate_on", [0, 1], ids=["terminate-on-agent-replica", "terminate-on-consultant-replica"])
async def test_terminate_cuts_a_relay_that_spans_two_gateway_replicas(start_system, terminate_on):
    system = start_system(gateways=2, shared=True)
    agent_gw, consultant_gw = system.gateway_urls
    request, agent, consultant, token = await open_relay(system, agent_gateway=agent_gw, consultant_gateway=consultant_gw)
    await _terminate_while_agent_streams(request, agent, consultant, system.gateway_urls[terminate_on])
    await _reconnects_are_refused(system, request, token, agent_gw, consultant_gw)
    await _events_arrived_once(system, request.session_id)


async def test_a_console_reloaded_while_waiting_meets_the_agent_on_another_replica(start_system):
    """The consultant's console reloads before the agent is there: the new window looks for the agent's replica
    itself. (Its predecessor's search used to stop with it, and the new window heard nothing until an `up`.)"""
    system = start_system(gateways=2, shared=True)
    agent_gw, consultant_gw = system.gateway_urls
    system.add_user("consultant", "maria", PASSWORD, check=False)
    request, token = await claimed_request(consultant_gw)
    first_window = await connect_consultant(consultant_gw, request.session_id, token)
    await next_control(first_window, "waiting_for_agent")
    second_window = await connect_consultant(consultant_gw, request.session_id, token)
    assert (await close_code(first_window))[0] == 4409
    await next_control(second_window, "waiting_for_agent")

    agent = await connect_agent(agent_gw, request.session_code)
    await next_control(agent, "attached")
    await next_control(second_window, "peer_joined")
    await next_control(agent, "peer_joined")
    async with httpx.AsyncClient(base_url=agent_gw, timeout=10) as customer:
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "active")
    await bytes_cross_both_ways(agent, second_window)


async def test_the_agent_ends_the_session_for_the_customer(start_system):
    system = start_system(gateways=1, shared=True)
    gateway = system.gateway_urls[0]
    request, agent, consultant, _token = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    await agent.send('{"type": "end_session"}')
    (consultant_code, reason), (agent_code, _) = await asyncio.gather(close_code(consultant), close_code(agent))
    assert (consultant_code, agent_code) == (4410, 4410) and "customer" in reason
    async with httpx.AsyncClient(base_url=gateway, timeout=10) as customer:
        ended = await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended")
    assert ended["ended_by"] == "customer" and ended["end_reason"] == "customer_terminated"
