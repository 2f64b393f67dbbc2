"""The cap on waiting requests, over a real nats-server and a real database: past it a request is a 429 that
says when to come back, and a request a consultant took frees its place."""

from __future__ import annotations

import pytest

CAP = 3


@pytest.fixture
def session_overrides() -> dict:
    return {"session_max_waiting_requests": CAP}


async def test_past_the_cap_of_waiting_requests_a_request_is_429_until_one_is_claimed(call, refused, request_help):
    waiting = [await request_help() for _ in range(CAP)]

    problem = await refused("cmd.session.request", {
        "session_id": "one-too-many", "customer": {"name": "Ana", "email": "ana@example.bg"},
        "service_type": "consultation", "description": "x", "consent_id": "c-1", "scopes": ["view"],
    })
    assert (problem.status, problem.title) == (429, "Too many requests")
    assert problem.extra["retry_after"] > 0
    assert (await refused("cmd.session.get", {"session_id": "one-too-many"})).status == 404

    await call("cmd.session.claim", {"session_id": waiting[0]["session_id"], "consultant": "ana"})
    assert (await request_help())["status"] == "waiting"


async def test_ended_requests_do_not_count_against_the_cap(call, request_help, end_session):
    for _ in range(CAP + 2):
        requested = await request_help()
        await end_session(requested["session_id"], ended_by="customer", end_reason="customer_terminated")
    assert (await request_help())["status"] == "waiting"
