"""Endings decided elsewhere revoke the consent: an expired request's `session.ended`, and a terminate the gateway
kept while NATS was away (`gateway.terminate_requested`). Each is consumed once, however often it is delivered."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from assist_contract import consent as contract
from assist_platform.envelope import CloudEvent, rfc3339, utcnow
from assist_platform.outbox import ProcessedEvent
from consent_testkit import Holder, acquire, grant
from sqlmodel import select
from assist_platform.testing import stored_messages


async def deliver(nc, event: CloudEvent, times: int = 1) -> None:
    """Publish `event` to JetStream `times` times, each a new message (as after a crash past the duplicate
    window): only the consumer's processed-event ids keep it to one effect."""
    js = nc.jetstream()
    for attempt in range(times):
        await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": f"{event.id}-{attempt}"})


def session_ended(session_id: str, *, end_reason: str, ended_at: datetime) -> CloudEvent:
    return CloudEvent(source="assist/session", type="session.ended", subject=session_id, data={
        "session_id": session_id, "ended_at": rfc3339(ended_at), "ended_by": "system", "end_reason": end_reason,
        "started_at": None, "consultant": None, "service_type": "consultation"})


def terminate_requested(session_id: str, *, requested_at: datetime, reason: str = "customer_terminated",
                        ended_by: str = "customer") -> CloudEvent:
    return CloudEvent(source="assist/gateway", type="gateway.terminate_requested", subject=session_id, data={
        "session_id": session_id, "ended_by": ended_by, "reason": reason, "requested_at": rfc3339(requested_at)})


@pytest.fixture
def caught_up(nc, eventually):
    """Wait until consent's consumer `durable` has acknowledged everything in `stream`."""

    async def _wait(stream: str, durable: str) -> None:
        js = nc.jetstream()

        async def _done() -> bool:
            last_seq = (await js.stream_info(stream)).state.last_seq
            info = await js.consumer_info(stream, durable)
            return info.ack_floor.stream_seq >= last_seq and info.num_ack_pending == 0

        await eventually(_done, what=f"{durable} to consume {stream}")

    return _wait


async def revoked_events(nc, session_id: str) -> list[CloudEvent]:
    events = [CloudEvent.from_bytes(msg.data) for msg in await stored_messages(nc.jetstream(), "CONSENT")]
    return [event for event in events if event.type == "consent.revoked" and event.subject == session_id]


async def processed(consent_runtime, event_id: str) -> list:
    async with consent_runtime.database.session() as db:
        return list((await db.exec(select(ProcessedEvent).where(ProcessedEvent.event_id == event_id))).all())


async def test_an_expired_requests_consent_is_revoked_once_from_its_ending_and_its_leases_cut(
    consent_runtime, call, nc, eventually, caught_up
):
    holder = Holder()
    await holder.subscribe(nc)
    await grant(call, "s-expired")
    lease = await acquire(call, "s-expired")
    ended_at = utcnow()
    ending = session_ended("s-expired", end_reason="expired", ended_at=ended_at)
    await deliver(nc, ending, times=3)
    await caught_up("SESSION", "consent-sessions")

    view = await call(contract.get.subject, {"session_id": "s-expired"})
    assert (view["in_force"], view["reason"], view["revoked_at"]) == (False, "expired", rfc3339(ended_at))
    await eventually(lambda: holder.requests, what="the live lease to be cut")
    assert holder.requests == [{"session_id": "s-expired", "lease_ids": [lease["lease_id"]], "reason": "expired"}]
    assert len(await processed(consent_runtime, ending.id)) == 1

    async def _published() -> list:
        return await revoked_events(nc, "s-expired")

    await eventually(_published, what="consent.revoked to be published")
    (revoked,) = await revoked_events(nc, "s-expired")
    assert (revoked.data["reason"], revoked.data["ended_by"]) == ("expired", "system")


async def test_other_endings_and_unknown_sessions_revoke_nothing(consent_runtime, call, nc, caught_up):
    await grant(call, "s-running")
    await deliver(nc, session_ended("s-running", end_reason="customer_terminated", ended_at=utcnow()))
    await deliver(nc, session_ended("s-nobody", end_reason="expired", ended_at=utcnow()))
    await deliver(nc, terminate_requested("s-nobody", requested_at=utcnow()))
    await caught_up("SESSION", "consent-sessions")
    await caught_up("GATEWAY", "consent-gateway")
    assert (await call(contract.get.subject, {"session_id": "s-running"}))["in_force"] is True


async def test_a_kept_terminate_revokes_at_the_time_it_was_asked_and_only_the_first_counts(
    consent_runtime, call, nc, eventually, caught_up
):
    await grant(call, "s-kept")
    asked_at = utcnow()
    first = terminate_requested("s-kept", requested_at=asked_at)
    later = terminate_requested("s-kept", requested_at=asked_at + timedelta(seconds=1), reason="consultant_ended",
                                ended_by="consultant")
    await deliver(nc, first, times=2)
    await deliver(nc, later)
    await caught_up("GATEWAY", "consent-gateway")

    view = await call(contract.get.subject, {"session_id": "s-kept"})
    assert (view["reason"], view["revoked_at"]) == ("customer_terminated", rfc3339(asked_at))
    answer = await call(contract.revoke.subject, {"session_id": "s-kept", "reason": "admin"})
    assert (answer["already_revoked"], answer["ended_by"], answer["revoked_at"]) == (
        True, "customer", rfc3339(asked_at))

    async def _published() -> list:
        return await revoked_events(nc, "s-kept")

    await eventually(_published, what="consent.revoked to be published")
    await consent_runtime.outbox.publish_pending()
    assert len(await revoked_events(nc, "s-kept")) == 1
