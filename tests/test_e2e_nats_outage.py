"""With NATS gone, access fails closed within one lease, and a terminate still answers and cuts (DESIGN.md)."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from public_api import bearer, close_code, events_for, request_help, wait_for_status
from relay_flow import open_relay

pytestmark = pytest.mark.e2e

LEASE_SECONDS = 5.0
LONG_LEASE_SECONDS = 8.0


async def test_relay_closes_within_the_lease_when_nats_stops(start_system, own_nats_server):
    system = start_system(gateways=1, extra_env={"NATS_URL": own_nats_server.url})
    gateway = system.gateway_urls[0]
    _request, agent, consultant, _token = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    own_nats_server.stop()
    stopped = time.monotonic()
    codes = await asyncio.gather(close_code(consultant, timeout=LEASE_SECONDS + 3), close_code(agent, timeout=LEASE_SECONDS + 3))
    elapsed = time.monotonic() - stopped
    assert [code for code, _ in codes] == [4408, 4408], codes
    assert elapsed <= LEASE_SECONDS + 0.5, f"the relay stayed open {elapsed:.2f}s after NATS stopped"


async def test_terminate_without_nats_cuts_at_once_and_publishes_exactly_once_when_nats_returns(
    start_system, own_nats_server
):
    system = start_system(gateways=1, extra_env={"NATS_URL": own_nats_server.url})
    gateway = system.gateway_urls[0]
    request, agent, consultant, _token = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    own_nats_server.stop()
    async with httpx.AsyncClient(base_url=gateway, timeout=30) as customer:
        terminate = asyncio.create_task(
            customer.post(f"/api/v1/sessions/{request.session_id}/terminate", headers=bearer(request.customer_token))
        )
        started = time.monotonic()
        (consultant_code, reason), (agent_code, _) = await asyncio.gather(
            close_code(consultant, timeout=3), close_code(agent, timeout=3)
        )
        cut_after = time.monotonic() - started
        assert (consultant_code, agent_code) == (4410, 4410) and "customer" in reason
        assert cut_after < 1.0, f"the local cut took {cut_after:.2f}s"
        response = await terminate
        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ended", "ended_by": "customer"}

        own_nats_server.start()
        await wait_for_status(customer, request.session_id, bearer(request.customer_token), "ended", timeout=30)
        # Each outbox publishes in commit order: once a later request's events are out, every earlier event is too.
        marker = await request_help(customer)
    await _wait_for_types(own_nats_server.url, "CONSENT", marker.session_id, {"consent.granted"})
    await _wait_for_types(own_nats_server.url, "SESSION", marker.session_id, {"session.requested"})
    consent = [event["type"] for event, _ in await events_for(own_nats_server.url, "CONSENT", request.session_id)]
    session = [event["type"] for event, _ in await events_for(own_nats_server.url, "SESSION", request.session_id)]
    assert consent.count("consent.revoked") == 1, consent
    assert session.count("session.ended") == 1, session


async def test_a_longer_consent_lease_alone_keeps_200_meaning_cut_while_nats_is_down(start_system, own_nats_server):
    """Only CONSENT_LEASE_SECONDS is raised: the gateway waits out the lease consent granted, not one of its own,
    so when the terminate answers, the relay on the other replica (which cannot hear the cut) has lapsed too."""
    system = start_system(gateways=2, extra_env={"NATS_URL": own_nats_server.url,
                                                 "CONSENT_LEASE_SECONDS": str(LONG_LEASE_SECONDS)})
    home, other = system.gateway_urls
    request, agent, consultant, _token = await open_relay(system, agent_gateway=home, consultant_gateway=other)
    own_nats_server.stop()
    async with httpx.AsyncClient(base_url=other, timeout=30) as customer:
        asked = time.monotonic()
        response = await customer.post(f"/api/v1/sessions/{request.session_id}/terminate",
                                       headers=bearer(request.customer_token))
        answered = time.monotonic() - asked
    assert response.status_code == 200 and response.json() == {"status": "ended", "ended_by": "customer"}
    assert answered >= LONG_LEASE_SECONDS * 0.95, f"answered after {answered:.2f}s, inside the consent's lease"
    # The consultant's replica cut at once; the agent's replica heard nothing and lapsed by the lease's end.
    assert (await close_code(consultant, timeout=1))[0] == 4410
    agent_code, _ = await close_code(agent, timeout=1)
    assert agent_code == 4408, f"the agent's relay was still open after the 200 ({agent_code})"


async def _wait_for_types(nats_url: str, stream: str, session_id: str, types: set[str], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while True:
        found = {event["type"] for event, _ in await events_for(nats_url, stream, session_id)}
        if found >= types:
            return
        assert time.monotonic() < deadline, f"{stream} has {found} for {session_id}, not {types}"
        await asyncio.sleep(0.1)
