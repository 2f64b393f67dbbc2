"""Requests nobody starts expire by themselves (the consent service revokes their consents from the ending), and
codes lapse."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from assist_platform.commands import serve_command
from assist_platform.envelope import CloudEvent, rfc3339
from assist_platform.problems import Problem
from assist_session.models import HelpSession
from pydantic import BaseModel
from sqlmodel import select

REQUEST_TTL = 1.5


class RevokeInput(BaseModel):
    session_id: str
    reason: str


@pytest.fixture
def session_overrides() -> dict:
    return {"session_request_ttl_seconds": REQUEST_TTL, "session_code_ttl_seconds": 0.5}


async def stored(session_runtime, session_id: str) -> HelpSession:
    async with session_runtime.database.session() as db:
        return (await db.exec(select(HelpSession).where(HelpSession.session_id == session_id))).one()


@pytest.fixture
def consent_stand_in(nc):
    """Something answering `cmd.consent.revoke` as the consent service would, recording every request: the
    session service must send none."""
    revocations: list[RevokeInput] = []
    answers: list[Problem | None] = []  # consumed in order; once empty, every revoke succeeds

    async def _revoke(request: RevokeInput) -> dict:
        revocations.append(request)
        if answers and (problem := answers.pop(0)) is not None:
            raise problem
        return {"consent_id": "c-1", "session_id": request.session_id, "revoked_at": rfc3339(datetime.now(UTC)),
                "reason": request.reason, "already_revoked": False}

    async def _start(*scripted: Problem | None):
        answers.extend(scripted)
        return await serve_command(nc, subject="cmd.consent.revoke", input_model=RevokeInput, handler=_revoke,
                                   queue="consent")

    _start.revocations = revocations
    return _start


async def test_a_request_nobody_started_expires_as_ended_by_the_system_and_is_never_started(
    call, refused, request_help, wait_until, session_events, consent_stand_in
):
    await consent_stand_in()
    waiting = await request_help()
    assigned = await request_help()
    active = await request_help()
    await call("cmd.session.claim", {"session_id": assigned["session_id"], "consultant": "ana"})
    await call("cmd.session.claim", {"session_id": active["session_id"], "consultant": "boris"})
    await call("cmd.session.activate", {"session_id": active["session_id"], "at": rfc3339(datetime.now(UTC))})

    for session in (waiting, assigned):
        async def _expired(session_id=session["session_id"]):
            view = await call("cmd.session.get", {"session_id": session_id})
            return view if view["status"] == "ended" else None

        view = await wait_until(_expired, timeout=REQUEST_TTL + 10, what="the request to expire")
        assert (view["ended_by"], view["end_reason"], view["started_at"]) == ("system", "expired", None)
        types = [message.subject for message in await session_events(session["session_id"])]
        assert "session.started" not in types and types.count("session.ended") == 1
        activate = {"session_id": session["session_id"], "at": rfc3339(datetime.now(UTC))}
        assert (await refused("cmd.session.activate", activate)).status == 409

    assert (await call("cmd.session.get", {"session_id": active["session_id"]}))["status"] == "active"


async def test_an_expired_request_ends_without_asking_consent_and_a_later_revocation_changes_nothing_else(
    call, request_help, wait_until, session_runtime, session_events, consent_stand_in, publish_consent_event
):
    """The consent service revokes from the request's `session.ended` (its consumer, services/consent); the
    session service asks nothing, and the `consent.revoked` that follows only records when it happened."""
    await consent_stand_in()
    requested = await request_help()
    session_id = requested["session_id"]

    async def _expired():
        row = await stored(session_runtime, session_id)
        return row if row.status == "ended" else None

    row = await wait_until(_expired, timeout=REQUEST_TTL + 10, what="the request to expire")
    assert (row.ended_by, row.end_reason, row.consent_revoked_at) == ("system", "expired", None)
    (ended,) = [m for m in await session_events(session_id) if m.subject == "session.ended"]
    assert CloudEvent.from_bytes(ended.data).data["end_reason"] == "expired"

    for _ in range(2):  # delivered twice: one effect
        await publish_consent_event("consent.revoked", session_id, {
            "consent_id": requested.get("consent_id") or "c-1", "session_id": session_id, "reason": "expired",
            "ended_by": "system", "revoked_at": rfc3339(row.ended_at)})

    async def _revoked():
        stored_row = await stored(session_runtime, session_id)
        return stored_row if stored_row.consent_revoked_at is not None else None

    revoked = await wait_until(_revoked, what="the revocation to be recorded")
    assert (revoked.status, revoked.ended_by, revoked.end_reason, revoked.ended_at) == (
        "ended", "system", "expired", row.ended_at)
    assert [m.subject for m in await session_events(session_id)].count("session.ended") == 1
    assert consent_stand_in.revocations == []  # nobody asked consent: it reads the ending itself


async def test_an_unused_code_lapses_and_leaves_the_live_codes(refused, request_help, wait_until, session_runtime):
    requested = await request_help()

    async def _released():
        return (await stored(session_runtime, requested["session_id"])).live_code is None

    await wait_until(_released, what="the expired code to leave the live codes")
    problem = await refused("cmd.session.attach_agent", {"session_code": requested["session_code"]})
    assert problem.status == 410 and "expired" in problem.detail
