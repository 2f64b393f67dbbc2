"""Fair time end to end (issue #13): the time the customer's agent is away is not billed, and the customer's page
can tell the agent is away and until when the session waits for it."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import httpx
import pytest
import websockets
from assist_platform.testing import eventually
from billing_events import closed_record
from public_api import bearer, close_code, events_for, login, next_control, wait_for_status, ws_url
from relay_flow import PASSWORD, next_binary, open_relay

pytestmark = pytest.mark.e2e

GRACE = 6.0
PAUSE = 2  # seconds the agent stays away before it comes back


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


async def view_when(client, request, condition, *, what: str, timeout: float = 15.0) -> dict:
    """The customer's view of the session once `condition(view)` holds."""
    async def view() -> dict | None:
        body = (await client.get(f"/api/v1/sessions/{request.session_id}",
                                 headers=bearer(request.customer_token))).json()
        return body if condition(body) else None

    return await eventually(view, timeout=timeout, what=what)


def away_seconds(periods: list[dict], *, ended_at: datetime) -> float:
    return sum(((parse_time(p["to"]) if p["to"] else ended_at) - parse_time(p["from"])).total_seconds()
               for p in periods)


async def ended_event_data(system, session_id: str) -> dict:
    (ended,) = [event for event, _ in await events_for(system.nats_url, "SESSION", session_id)
                if event["type"] == "session.ended"]
    return ended["data"]


async def test_the_time_the_agent_was_away_is_not_billed(start_system):
    system = start_system(gateways=2, extra_env={"AGENT_GRACE_SECONDS": str(GRACE)})
    agent_gw, consultant_gw = system.gateway_urls
    system.add_user("finance", "fiona", PASSWORD)
    request, agent, consultant, consultant_token = await open_relay(system, agent_gateway=agent_gw,
                                                                    consultant_gateway=consultant_gw)
    async with httpx.AsyncClient(base_url=agent_gw, timeout=20) as client:
        connected = await view_when(client, request, lambda v: v["agent"] == "connected", what="agent connected")
        assert (connected["agent_away_since"], connected["paused_seconds"]) == (None, 0)
        agent.transport.abort()  # a network drop, not a goodbye
        await next_control(consultant, "peer_left")
        # The customer's page can say the agent is away, since when, and when the session ends without it.
        away = await view_when(client, request, lambda v: v["agent"] == "away" and v["paused_seconds"] >= PAUSE,
                               what=f"the agent away for {PAUSE} s")
        assert away["status"] == "active"
        assert parse_time(away["agent_grace_ends_at"]) == parse_time(away["agent_away_since"]) + timedelta(
            seconds=GRACE)
        # Back on the other replica, as a reconnecting agent may well land.
        again = await websockets.connect(
            f"{ws_url(consultant_gw)}/ws/v1/agent?session={request.session_id}"
            f"&resume={agent.attached['resume_token']}", max_size=None)
        await next_control(again, "attached")
        await next_control(again, "peer_joined")
        await again.send(b"\x02back")
        assert await next_binary(consultant) == b"\x02back"
        back = await view_when(client, request, lambda v: v["agent"] == "connected", what="the agent back")
        assert back["paused_seconds"] >= PAUSE and back["agent_grace_ends_at"] is None

        ended = await client.post(f"/api/v1/sessions/{request.session_id}/end", headers=bearer(consultant_token))
        assert ended.json() == {"status": "ended", "ended_by": "consultant"}
        session = await wait_for_status(client, request.session_id, bearer(request.customer_token), "ended")
        finance = bearer(await login(client, "fiona", PASSWORD))
        record = await closed_record(client, finance, request.session_id)

    started_at, ended_at = parse_time(session["started_at"]), parse_time(session["ended_at"])
    active = (ended_at - started_at).total_seconds()
    data = await ended_event_data(system, request.session_id)
    (period,) = data["agent_away"]
    assert period["to"] is not None and data["paused_seconds"] >= PAUSE
    assert record["billable_seconds"] == math.ceil(active - away_seconds(data["agent_away"], ended_at=ended_at))
    assert record["billable_seconds"] <= math.ceil(active) - PAUSE


async def test_a_session_whose_agent_is_lost_is_billed_up_to_the_loss(start_system):
    grace = 3.0
    system = start_system(gateways=1, extra_env={"AGENT_GRACE_SECONDS": str(grace)})
    gateway = system.gateway_url
    system.add_user("finance", "fiona", PASSWORD)
    request, agent, consultant, _ = await open_relay(system, agent_gateway=gateway, consultant_gateway=gateway)
    agent.transport.abort()
    code, reason = await close_code(consultant, timeout=grace + 10)
    assert code == 4410 and "agent_lost" in reason
    async with httpx.AsyncClient(base_url=gateway, timeout=20) as client:
        session = await wait_for_status(client, request.session_id, bearer(request.customer_token), "ended")
        assert (session["ended_by"], session["end_reason"]) == ("system", "agent_lost")
        assert session["agent_away_since"] is None and session["agent_grace_ends_at"] is None
        finance = bearer(await login(client, "fiona", PASSWORD))
        record = await closed_record(client, finance, request.session_id)

    started_at, ended_at = parse_time(session["started_at"]), parse_time(session["ended_at"])
    data = await ended_event_data(system, request.session_id)
    (lost,) = data["agent_away"]
    assert lost["to"] is None
    lost_at = parse_time(lost["from"])
    assert ended_at - lost_at >= timedelta(seconds=grace - 0.5)  # the session waited out the grace period...
    assert record["billable_seconds"] == math.ceil((lost_at - started_at).total_seconds())  # ...unbilled
    assert session["paused_seconds"] == int((ended_at - lost_at).total_seconds())
