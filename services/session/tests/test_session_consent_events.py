"""Consent events, published to JetStream as the consent service does, end sessions exactly once."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from assist_platform.envelope import CloudEvent, rfc3339
from assist_platform.outbox import ProcessedEvent
from assist_session.consumers import DURABLE
from assist_session.models import HelpSession
from sqlmodel import select


@pytest.fixture
def consent_consumed(nc, wait_until):
    """Wait until the session service has acknowledged every event in the CONSENT stream."""
    js = nc.jetstream()

    async def _caught_up() -> bool:
        last_seq = (await js.stream_info("CONSENT")).state.last_seq
        info = await js.consumer_info("CONSENT", DURABLE)
        return info.ack_floor.stream_seq >= last_seq and info.num_ack_pending == 0

    async def _wait() -> None:
        await wait_until(_caught_up, what="the session consumer to acknowledge the CONSENT stream")

    return _wait


@pytest.fixture
def active_session(call, request_help):
    async def _active() -> dict:
        requested = await request_help()
        session_id = requested["session_id"]
        await call("cmd.session.claim", {"session_id": session_id, "consultant": "ana"})
        await call("cmd.session.attach_agent", {"session_code": requested["session_code"]})
        return await call("cmd.session.activate", {"session_id": session_id, "at": rfc3339(datetime.now(UTC))})

    return _active


def revoked_data(session: dict, *, reason: str, revoked_at: datetime) -> dict:
    return {"consent_id": session["consent_id"], "session_id": session["session_id"], "reason": reason,
            "revoked_at": rfc3339(revoked_at)}


async def ended_view(call, wait_until, session_id: str) -> dict:
    async def _ended():
        view = await call("cmd.session.get", {"session_id": session_id})
        return view if view["status"] == "ended" else None

    return await wait_until(_ended, what=f"session {session_id} to end")


async def stored(session_runtime, session_id: str) -> HelpSession:
    async with session_runtime.database.session() as db:
        return (await db.exec(select(HelpSession).where(HelpSession.session_id == session_id))).one()


@pytest.mark.parametrize(
    ("reason", "ended_by", "end_reason"),
    [
        ("customer_terminated", "customer", "customer_terminated"),
        ("consultant_ended", "consultant", "consultant_ended"),
        ("agent_lost", "system", "agent_lost"),
        ("expired", "system", "consent_expired"),
    ],
)
async def test_a_revoked_consent_ends_the_active_session_as_the_reason_says(
    reason, ended_by, end_reason, call, wait_until, active_session, publish_consent_event, session_events,
    session_runtime,
):
    session = await active_session()
    session_id = session["session_id"]
    revoked_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
    await publish_consent_event("consent.revoked", session_id, revoked_data(session, reason=reason,
                                                                            revoked_at=revoked_at))

    view = await ended_view(call, wait_until, session_id)
    assert (view["ended_by"], view["end_reason"], view["ended_at"]) == (ended_by, end_reason, rfc3339(revoked_at))
    ended = [CloudEvent.from_bytes(m.data) for m in await session_events(session_id) if m.subject == "session.ended"]
    assert len(ended) == 1
    assert (ended[0].data["ended_by"], ended[0].data["started_at"]) == (ended_by, session["started_at"])
    assert (await stored(session_runtime, session_id)).consent_revoked_at == revoked_at


async def test_a_consent_that_expired_before_anyone_started_ends_the_request_as_expired(
    call, wait_until, request_help, publish_consent_event
):
    requested = await request_help()
    session = await call("cmd.session.get", {"session_id": requested["session_id"]})
    await publish_consent_event("consent.revoked", session["session_id"],
                                revoked_data(session, reason="expired", revoked_at=datetime.now(UTC)))
    view = await ended_view(call, wait_until, session["session_id"])
    assert (view["ended_by"], view["end_reason"], view["started_at"]) == ("system", "expired", None)


async def test_the_same_revocation_delivered_twice_has_one_effect(
    call, wait_until, active_session, publish_consent_event, consent_consumed, session_events, session_runtime
):
    session = await active_session()
    session_id = session["session_id"]
    event = CloudEvent(source="assist/consent", type="consent.revoked", subject=session_id,
                       data=revoked_data(session, reason="customer_terminated", revoked_at=datetime.now(UTC)))
    # Two copies in the stream (past JetStream's duplicate window, as after a long outage): only our own check is left.
    await publish_consent_event("consent.revoked", session_id, {}, event=event, msg_id=f"{event.id}-first")
    await publish_consent_event("consent.revoked", session_id, {}, event=event, msg_id=f"{event.id}-second")
    await consent_consumed()

    view = await ended_view(call, wait_until, session_id)
    assert view["ended_by"] == "customer"
    types = [m.subject for m in await session_events(session_id)]
    assert types.count("session.ended") == 1
    async with session_runtime.database.session() as db:
        processed = (await db.exec(select(ProcessedEvent).where(ProcessedEvent.event_id == event.id))).all()
    assert len(processed) == 1


async def test_the_first_revocation_wins_and_a_later_one_changes_nothing(
    call, wait_until, active_session, publish_consent_event, consent_consumed, session_events, session_runtime,
    end_session,
):
    revoked_first = await active_session()
    await publish_consent_event("consent.revoked", revoked_first["session_id"],
                                revoked_data(revoked_first, reason="customer_terminated", revoked_at=datetime.now(UTC)))
    await ended_view(call, wait_until, revoked_first["session_id"])
    late_end = await end_session(revoked_first["session_id"], ended_by="consultant", end_reason="consultant_ended")
    assert (late_end["ended_by"], late_end["end_reason"]) == ("customer", "customer_terminated")

    ended_first = await active_session()
    end = await end_session(ended_first["session_id"], ended_by="customer", end_reason="customer_terminated")
    await publish_consent_event("consent.revoked", ended_first["session_id"],
                                revoked_data(ended_first, reason="admin", revoked_at=datetime.now(UTC)))
    await consent_consumed()
    view = await call("cmd.session.get", {"session_id": ended_first["session_id"]})
    assert view == end
    assert (await stored(session_runtime, ended_first["session_id"])).consent_revoked_at is not None

    for session in (revoked_first, ended_first):
        assert [m.subject for m in await session_events(session["session_id"])].count("session.ended") == 1


async def test_a_grant_fills_in_a_missing_consent_id_and_changes_nothing_else(
    call, request_help, publish_consent_event, consent_consumed
):
    without = await request_help(consent_id=None)
    with_id = await request_help()
    consent_id = str(uuid.uuid4())
    for session in (without, with_id):
        await publish_consent_event("consent.granted", session["session_id"],
                                    {"consent_id": consent_id, "session_id": session["session_id"]})
    await consent_consumed()
    assert (await call("cmd.session.get", {"session_id": without["session_id"]}))["consent_id"] == consent_id
    view = await call("cmd.session.get", {"session_id": with_id["session_id"]})
    assert view["consent_id"] != consent_id and view["status"] == "waiting"


async def test_events_about_unknown_sessions_or_malformed_ones_do_not_stop_the_consumer(
    call, wait_until, active_session, publish_consent_event
):
    unknown = str(uuid.uuid4())
    await publish_consent_event("consent.revoked", unknown, {"consent_id": "c", "session_id": unknown,
                                                            "reason": "admin", "revoked_at": rfc3339(datetime.now(UTC))})
    await publish_consent_event("consent.revoked", unknown, {"session_id": unknown, "reason": "admin"})
    await publish_consent_event("consent.granted", unknown, {"session_id": unknown, "consent_id": "c"})

    session = await active_session()
    await publish_consent_event("consent.revoked", session["session_id"],
                                revoked_data(session, reason="admin", revoked_at=datetime.now(UTC)))
    assert (await ended_view(call, wait_until, session["session_id"]))["end_reason"] == "admin"
