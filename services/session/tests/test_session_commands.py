"""The session commands over a real nats-server and a real database, and the events they publish."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from assist_platform.envelope import CloudEvent, rfc3339
from assist_platform.outbox import ProcessedEvent
from assist_platform.problems import Problem
from assist_session.models import HelpSession
from sqlmodel import select

# What `request_help` sends (conftest): all four fields, so the stored customer is the one sent.
CUSTOMER = {"name": "Ana Ivanova", "email": "ana@example.bg", "company": "Ivanovi OOD", "phone": "+359 2 123 4567"}
CUSTOMER_OUT = CUSTOMER


async def test_a_help_request_goes_from_waiting_to_ended_with_each_event_once(
    call, refused, request_help, session_events, end_session
):
    requested = await request_help()
    session_id = requested["session_id"]
    assert requested["status"] == "waiting"
    assert len(requested["session_code"]) == 9 and requested["session_code"].isdigit()

    claimed = await call("cmd.session.claim", {"session_id": session_id, "consultant": "ana"})
    assert (claimed["status"], claimed["consultant"]) == ("assigned", "ana")
    problem = await refused("cmd.session.claim", {"session_id": session_id, "consultant": "boris"})
    assert problem.status == 409 and problem.extra["code"] == "already_claimed"  # the console's words name it

    attached = await call("cmd.session.attach_agent", {"session_code": requested["session_code"]})
    assert (attached["session_id"], attached["status"]) == (session_id, "assigned")
    assert (await refused("cmd.session.attach_agent", {"session_code": requested["session_code"]})).status == 410

    started_at = datetime.now(UTC).replace(microsecond=0)
    active = await call("cmd.session.activate", {"session_id": session_id, "at": rfc3339(started_at)})
    assert active["status"] == "active" and active["expires_at"] is None
    again = await call("cmd.session.activate", {"session_id": session_id, "at": rfc3339(started_at + timedelta(1))})
    assert again["started_at"] == active["started_at"]

    ended = await end_session(session_id, ended_by="consultant", end_reason="consultant_ended")
    assert (ended["status"], ended["ended_by"], ended["end_reason"]) == ("ended", "consultant", "consultant_ended")

    messages = await session_events(session_id)
    events = [CloudEvent.from_bytes(message.data) for message in messages]
    assert [event.type for event in events] == ["session.requested", "session.assigned", "session.started",
                                                "session.ended"]
    for message, event in zip(messages, events, strict=True):
        assert message.subject == event.type and event.subject == session_id
        assert message.headers["Nats-Msg-Id"] == event.id
        assert event.source == "assist/session"
    requested_event, assigned_event, started_event, ended_event = events
    assert requested_event.data == {"session_id": session_id, "service_type": "consultation", "customer": CUSTOMER_OUT,
                                    "consultant": None, "at": requested_event.data["at"]}
    assert (assigned_event.data["consultant"], assigned_event.data["at"]) == ("ana", claimed["assigned_at"])
    assert started_event.data["at"] == rfc3339(started_at)
    assert ended_event.data == {
        "session_id": session_id, "ended_at": ended_event.data["ended_at"], "ended_by": "consultant",
        "end_reason": "consultant_ended", "started_at": rfc3339(started_at), "consultant": "ana",
        "service_type": "consultation", "customer": CUSTOMER_OUT, "requested_at": requested_event.data["at"],
        "agent_away": [], "paused_seconds": 0,
    }


async def test_the_request_answer_carries_the_code_token_and_deadline_and_stores_only_the_token_hash(
    request_help, session_runtime, session_settings
):
    before = datetime.now(UTC)
    requested = await request_help()
    expires_at = datetime.fromisoformat(requested["expires_at"])
    ttl = timedelta(seconds=session_settings.session_request_ttl_seconds)
    assert before + ttl <= expires_at <= datetime.now(UTC) + ttl
    async with session_runtime.database.session() as db:
        row = (await db.exec(select(HelpSession).where(HelpSession.session_id == requested["session_id"]))).one()
    assert row.customer_token_sha256 == hashlib.sha256(requested["customer_token"].encode()).hexdigest()
    assert requested["customer_token"] not in str(row.model_dump())


async def test_the_view_shows_the_request_as_stored(call, request_help):
    requested = await request_help(description="  Outlook asks for a password.  ", scopes=["control", "view"])
    view = await call("cmd.session.get", {"session_id": requested["session_id"]})
    assert view["description"] == "Outlook asks for a password."
    assert view["scopes"] == ["view", "control"]
    assert view["customer"] == CUSTOMER_OUT
    assert view["expires_at"] == requested["expires_at"]
    assert [view[key] for key in ("consultant", "assigned_at", "started_at", "ended_at", "ended_by", "end_reason")] \
        == [None] * 6


async def test_an_unknown_session_is_404_for_every_command_that_names_one(refused):
    unknown = str(uuid.uuid4())
    assert (await refused("cmd.session.get", {"session_id": unknown})).status == 404
    missing = await refused("cmd.session.claim", {"session_id": unknown, "consultant": "ana"})
    assert missing.status == 404 and missing.extra["code"] == "session_not_found"
    assert (await refused("cmd.session.activate", {"session_id": unknown, "at": "2025-01-01T00:00:00Z"})).status == 404
    assert (await refused("cmd.session.end", {"session_id": unknown})).status == 503  # there is no such command


async def test_a_revocation_of_an_unknown_session_creates_nothing(refused, publish_consent_event, session_runtime,
                                                                  wait_until):
    unknown = str(uuid.uuid4())
    event = await publish_consent_event("consent.revoked", unknown, {
        "consent_id": str(uuid.uuid4()), "session_id": unknown, "reason": "customer_terminated",
        "ended_by": "customer", "revoked_at": "2030-01-01T10:00:00Z"})
    await wait_until(lambda: _processed(session_runtime, event.id), what="the revocation to be applied")
    assert (await refused("cmd.session.get", {"session_id": unknown})).status == 404



async def _processed(runtime, event_id: str) -> bool:
    async with runtime.database.session() as db:
        query = select(ProcessedEvent).where(ProcessedEvent.event_id == event_id)
        return (await db.exec(query)).first() is not None


async def test_an_unknown_code_is_404(refused, request_help):
    await request_help()
    for code in ("000000000", "12345", "abcdefghi", ""):
        problem = await refused("cmd.session.attach_agent", {"session_code": code})
        assert problem.status == 404, code


async def test_an_unknown_service_type_is_422_naming_the_allowed_ones(refused, request_help):
    with pytest.raises(Problem) as caught:
        await request_help(service_type="gardening")
    assert caught.value.status == 422
    assert "consultation, system_help, urgent_help" in caught.value.detail


async def test_bad_customer_details_and_long_descriptions_are_422_with_a_reason(request_help):
    cases = [
        ({"customer": {**CUSTOMER, "email": "not-an-email"}}, "not an email address"),
        ({"customer": {**CUSTOMER, "name": " "}}, "customer.name must not be empty"),
        ({"description": "x" * 4001}, "at most 4000"),
        ({"scopes": ["view", "sudo"]}, "Unknown scopes sudo"),
    ]
    for overrides, detail in cases:
        with pytest.raises(Problem) as caught:
            await request_help(**overrides)
        assert caught.value.status == 422 and detail in caught.value.detail, overrides


async def test_a_session_id_is_requested_only_once(request_help):
    requested = await request_help()
    with pytest.raises(Problem) as caught:
        await request_help(session_id=requested["session_id"])
    assert caught.value.status == 409


async def test_only_an_assigned_session_can_be_activated(call, refused, request_help, end_session):
    requested = await request_help()
    activate = {"session_id": requested["session_id"], "at": "2025-01-01T10:00:00Z"}
    assert (await refused("cmd.session.activate", activate)).status == 409
    await call("cmd.session.claim", {"session_id": requested["session_id"], "consultant": "ana"})
    await end_session(requested["session_id"], ended_by="customer", end_reason="customer_terminated")
    assert (await refused("cmd.session.activate", activate)).status == 409
    ended = await refused("cmd.session.claim", {"session_id": requested["session_id"], "consultant": "ana"})
    assert ended.status == 409 and ended.extra["code"] == "not_waiting"


async def test_end_is_idempotent_and_keeps_the_first_end(call, request_help, session_events, end_session):
    requested = await request_help()
    session_id = requested["session_id"]
    first = await end_session(session_id, ended_by="customer", end_reason="customer_terminated",
                              ended_at="2030-01-01T12:00:00+02:00")
    second = await end_session(session_id, ended_by="consultant", end_reason="consultant_ended")
    assert first == second
    assert (second["ended_by"], second["end_reason"], second["ended_at"]) == (
        "customer", "customer_terminated", "2030-01-01T10:00:00Z"
    )
    assert second["started_at"] is None and second["expires_at"] is None
    types = [CloudEvent.from_bytes(message.data).type for message in await session_events(session_id)]
    assert types == ["session.requested", "session.ended"]


async def test_the_code_of_an_ended_session_is_gone(call, refused, request_help, end_session):
    requested = await request_help()
    await end_session(requested["session_id"], ended_by="system", end_reason="admin")
    assert (await refused("cmd.session.attach_agent", {"session_code": requested["session_code"]})).status == 410


async def test_bad_activate_input_is_422_and_a_malformed_revocation_ends_nothing(
    call, refused, request_help, publish_consent_event, session_runtime, wait_until
):
    requested = await request_help()
    session_id = requested["session_id"]
    await call("cmd.session.claim", {"session_id": session_id, "consultant": "ana"})
    assert (await refused("cmd.session.activate", {"session_id": session_id, "at": "2025-01-01T10:00:00"})).status \
        == 422  # a time without a zone is ambiguous
    for ended_by, reason in (("robot", "admin"), ("system", "Not A Reason")):
        event = await publish_consent_event("consent.revoked", session_id, {
            "consent_id": str(uuid.uuid4()), "session_id": session_id, "reason": reason, "ended_by": ended_by,
            "revoked_at": "2030-01-01T10:00:00Z"})
        await wait_until(lambda: _processed(session_runtime, event.id), what="the malformed revocation to be dropped")
        assert (await call("cmd.session.get", {"session_id": session_id}))["status"] == "assigned"
    assert (await refused("cmd.session.claim", {"session_id": session_id, "consultant": "  "})).status == 422


async def test_the_queue_holds_waiting_sessions_oldest_first_and_list_filters(call, request_help):
    first = await request_help()
    second = await request_help()
    third = await request_help()
    await call("cmd.session.claim", {"session_id": second["session_id"], "consultant": "ana"})

    queue = await call("cmd.session.queue", {})
    assert [view["session_id"] for view in queue["sessions"]] == [first["session_id"], third["session_id"]]

    everything = await call("cmd.session.list", {})
    assert [view["session_id"] for view in everything["sessions"]] == [
        third["session_id"], second["session_id"], first["session_id"]
    ]
    mine = await call("cmd.session.list", {"consultant": "ana"})
    assert [view["session_id"] for view in mine["sessions"]] == [second["session_id"]]
    assigned = await call("cmd.session.list", {"status": "assigned"})
    assert [view["session_id"] for view in assigned["sessions"]] == [second["session_id"]]


async def test_of_two_consultants_claiming_at_once_exactly_one_gets_the_session(call, request_help, session_events):
    requested = await request_help()
    claims = [call("cmd.session.claim", {"session_id": requested["session_id"], "consultant": name})
              for name in ("ana", "boris")]
    results = await asyncio.gather(*claims, return_exceptions=True)
    winners = [result for result in results if isinstance(result, dict)]
    losers = [result for result in results if isinstance(result, Problem)]
    assert len(winners) == 1 and [loser.status for loser in losers] == [409]
    types = [message.subject for message in await session_events(requested["session_id"])]
    assert types.count("session.assigned") == 1


async def test_the_agent_that_spent_the_code_comes_back_with_its_resume_token_until_the_end(call, refused, request_help, end_session):
    requested = await request_help()
    session_id = requested["session_id"]
    attached = await call("cmd.session.attach_agent", {"session_code": requested["session_code"]})
    token = attached["resume_token"]
    assert len(token) >= 32
    resumed = await call("cmd.session.resume_agent", {"session_id": session_id, "resume_token": token})
    assert resumed["session_id"] == session_id and "resume_token" not in resumed
    wrong = await refused("cmd.session.resume_agent", {"session_id": session_id, "resume_token": token + "x"})
    assert wrong.status == 403
    other = await request_help()
    assert (await refused("cmd.session.resume_agent",
                          {"session_id": other["session_id"], "resume_token": token})).status == 403
    await end_session(session_id, ended_by="system", end_reason="agent_lost")
    assert (await refused("cmd.session.resume_agent", {"session_id": session_id, "resume_token": token})).status == 410


async def test_an_attach_asked_again_with_its_resume_token_is_the_same_attach(call, refused, request_help, end_session):
    """A gateway whose first attach lost its answer asks again with the token it chose; nobody else gets in."""
    requested = await request_help()
    token = "t" * 43
    first = await call("cmd.session.attach_agent", {"session_code": requested["session_code"], "resume_token": token})
    again = await call("cmd.session.attach_agent", {"session_code": requested["session_code"], "resume_token": token})
    assert first["session_id"] == again["session_id"] == requested["session_id"]
    assert first["resume_token"] == again["resume_token"] == token
    other = await refused("cmd.session.attach_agent", {"session_code": requested["session_code"],
                                                       "resume_token": "u" * 43})
    assert other.status == 410
    assert (await refused("cmd.session.attach_agent", {"session_code": requested["session_code"]})).status == 410
    short = await refused("cmd.session.attach_agent", {"session_code": requested["session_code"], "resume_token": "x"})
    assert short.status == 422
    await end_session(requested["session_id"], ended_by="customer", end_reason="customer_terminated")
    ended = await refused("cmd.session.attach_agent", {"session_code": requested["session_code"], "resume_token": token})
    assert ended.status == 410
