"""Leases and the revoke that cuts them, over a real nats-server and a real database."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

import pytest
from assist_contract import consent as contract
from assist_platform.envelope import CloudEvent, utcnow
from assist_platform.problems import Problem
from assist_platform.testing import eventually
from consent_testkit import HOLDER, Holder, acquire, both_ends_leased_by_a_slow_holder, grant


async def test_acquire_gives_a_lease_for_the_consented_scopes(consent_runtime, call):
    await grant(call)
    lease = await acquire(call, endpoint="consultant")
    assert lease["session_id"] == "s-1" and lease["scopes"] == ["view", "control"]
    assert lease["ttl_seconds"] == consent_runtime.settings.consent_lease_seconds
    remaining = (datetime.fromisoformat(lease["expires_at"]) - utcnow()).total_seconds()
    assert 0 < remaining <= lease["ttl_seconds"]


async def test_acquire_without_a_consent_is_forbidden(consent_runtime, call):
    with pytest.raises(Problem) as refused:
        await acquire(call, session_id="nobody")
    assert refused.value.status == 403


async def test_acquire_with_an_unknown_endpoint_is_422(consent_runtime, call):
    await grant(call)
    with pytest.raises(Problem) as refused:
        await acquire(call, endpoint="spectator")
    assert refused.value.status == 422


async def test_renew_extends_the_holders_leases_and_refuses_the_rest(consent_runtime, call):
    await grant(call)
    lease = await acquire(call)
    other = await acquire(call, holder="gateway.cut.test-b")
    renewal = await call(
        contract.lease_renew.subject,
        {"holder": HOLDER, "lease_ids": [lease["lease_id"], other["lease_id"], "unknown"]},
    )
    assert renewal["renewed"] == [lease["lease_id"]]
    # Another holder's lease and an unknown id are not this holder's to use: it must cut them.
    assert sorted(renewal["revoked"]) == sorted([other["lease_id"], "unknown"])
    assert renewal["ttl_seconds"] == consent_runtime.settings.consent_lease_seconds


async def test_a_released_lease_is_not_renewed_and_not_cut(consent_runtime, call, nc):
    holder = Holder()
    await holder.subscribe(nc)
    await grant(call)
    lease = await acquire(call)
    assert (await call(contract.lease_release.subject, {"lease_ids": [lease["lease_id"]]}))["released"] == 1
    assert (await call(contract.lease_release.subject, {"lease_ids": [lease["lease_id"]]}))["released"] == 0
    renewal = await call(contract.lease_renew.subject, {"holder": HOLDER, "lease_ids": [lease["lease_id"]]})
    assert renewal["renewed"] == [] and renewal["revoked"] == [lease["lease_id"]]
    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "consultant_ended"})
    assert holder.requests == []


async def test_revoke_replies_only_after_the_holder_confirmed_the_cut(consent_runtime, call, nc):
    holder, agent, consultant = await both_ends_leased_by_a_slow_holder(call, nc)

    started = time.monotonic()
    result = await call(contract.revoke.subject, {"session_id": "s-1", "reason": "customer_terminated"})
    replied_at = time.monotonic()

    # One request for the holder, naming both of its leases, and the reply came after its confirmation,
    # long before the 5 s leases could have run out.
    assert holder.requests == [
        {
            "session_id": "s-1",
            "lease_ids": sorted([agent["lease_id"], consultant["lease_id"]]),
            "reason": "customer_terminated",
        }
    ]
    assert holder.confirmed_at is not None and replied_at >= holder.confirmed_at
    assert replied_at - started < 2.0
    assert result["reason"] == "customer_terminated" and result["already_revoked"] is False


async def test_revoke_asks_every_holder_in_parallel(consent_runtime, call, nc):
    holders = {
        subject: Holder(delay=0.3) for subject in ("gateway.cut.r1", "gateway.cut.r2", "gateway.cut.r3")
    }
    for subject, holder in holders.items():
        await holder.subscribe(nc, subject)
    await grant(call)
    for subject in holders:
        await acquire(call, holder=subject)
    started = time.monotonic()
    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "admin"})
    assert all(len(holder.requests) == 1 for holder in holders.values())
    assert time.monotonic() - started < 0.9  # three 0.3 s holders one after another would take 0.9 s


@pytest.mark.parametrize("consent_overrides", [{"consent_lease_seconds": 1.0}])
@pytest.mark.parametrize("holder_present", [True, False], ids=["silent-holder", "holder-gone"])
async def test_revoke_waits_for_the_lease_to_expire_when_the_holder_never_answers(
    consent_runtime, call, nc, holder_present
):
    holder = Holder(answer=False)
    if holder_present:
        await holder.subscribe(nc)
    await grant(call)
    lease = await acquire(call)
    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "customer_terminated"})
    expires_at = datetime.fromisoformat(lease["expires_at"])
    assert utcnow() >= expires_at, "the revoke answered while the unconfirmed lease was still live"
    assert len(holder.requests) == (1 if holder_present else 0)


async def test_renew_after_revoke_lists_the_lease_as_revoked(consent_runtime, call, nc):
    await Holder().subscribe(nc)
    await grant(call)
    lease = await acquire(call)
    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "consultant_ended"})
    renewal = await call(contract.lease_renew.subject, {"holder": HOLDER, "lease_ids": [lease["lease_id"]]})
    assert renewal["renewed"] == [] and renewal["revoked"] == [lease["lease_id"]]


async def test_acquire_after_revoke_is_forbidden(consent_runtime, call):
    await grant(call)
    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "agent_lost"})
    with pytest.raises(Problem) as refused:
        await acquire(call)
    assert refused.value.status == 403


async def test_revoke_with_an_unknown_reason_is_422(consent_runtime, call):
    await grant(call)
    with pytest.raises(Problem) as refused:
        await call(contract.revoke.subject, {"session_id": "s-1", "reason": "bored"})
    assert refused.value.status == 422


async def test_revoke_keeps_the_time_a_gateway_queued_it_at(consent_runtime, call):
    granted_at = datetime.fromisoformat((await grant(call))["granted_at"])
    queued_at = granted_at + (utcnow() - granted_at) / 2  # after the grant, before now
    result = await call(
        contract.revoke.subject,
        {"session_id": "s-1", "reason": "customer_terminated", "revoked_at": queued_at.isoformat()},
    )
    assert datetime.fromisoformat(result["revoked_at"]) == queued_at


async def test_revoke_never_takes_effect_before_the_grant_nor_in_the_future(consent_runtime, call):
    granted_at = datetime.fromisoformat((await grant(call, "s-early"))["granted_at"])
    early = await call(
        contract.revoke.subject,
        {
            "session_id": "s-early",
            "reason": "admin",
            "revoked_at": (granted_at - timedelta(hours=1)).isoformat(),
        },
    )
    assert datetime.fromisoformat(early["revoked_at"]) == granted_at

    await grant(call, "s-late")
    late = await call(
        contract.revoke.subject,
        {
            "session_id": "s-late",
            "reason": "admin",
            "revoked_at": (utcnow() + timedelta(hours=1)).isoformat(),
        },
    )
    assert datetime.fromisoformat(late["revoked_at"]) <= utcnow()


async def test_revoking_twice_answers_the_first_revocation_and_publishes_one_event(consent_runtime, call, nc):
    holder = Holder()
    await holder.subscribe(nc)
    revoked_events = await nc.jetstream().subscribe("consent.revoked", ordered_consumer=True)
    await grant(call)
    await acquire(call)
    first = await call(contract.revoke.subject, {"session_id": "s-1", "reason": "customer_terminated"})
    second = await call(contract.revoke.subject, {"session_id": "s-1", "reason": "consultant_ended"})
    assert first["already_revoked"] is False and second["already_revoked"] is True
    assert second["revoked_at"] == first["revoked_at"] and second["reason"] == "customer_terminated"
    assert first["ended_by"] == second["ended_by"] == "customer"  # who ended it: the first revocation's
    # The lease is still unexpired, so the second revoke asked the holder again (it must never assume).
    assert len(holder.requests) == 2

    msg = await revoked_events.next_msg(timeout=10)
    event = CloudEvent.from_bytes(msg.data)
    assert msg.headers["Nats-Msg-Id"] == event.id
    assert event.data == {
        "consent_id": first["consent_id"],
        "session_id": "s-1",
        "revoked_at": first["revoked_at"],
        "reason": "customer_terminated",
        "ended_by": "customer",
    }
    await _wait_for_empty_outbox(consent_runtime)
    info = await nc.jetstream().stream_info("CONSENT", subjects_filter="consent.revoked")
    assert info.state.subjects == {"consent.revoked": 1}


async def _wait_for_empty_outbox(runtime) -> None:
    async def empty() -> bool:
        return await runtime.outbox.backlog() == 0

    await eventually(empty, timeout=10, what="the outbox to be emptied")


@pytest.mark.parametrize("consent_overrides", [{"consent_max_seconds": 0.5}])
async def test_the_expiry_task_revokes_a_consent_past_its_maximum_duration(consent_runtime, call, nc):
    holder = Holder()
    await holder.subscribe(nc)
    revoked_events = await nc.jetstream().subscribe("consent.revoked", ordered_consumer=True)
    granted = await grant(call)
    lease = await acquire(call)

    event = CloudEvent.from_bytes((await revoked_events.next_msg(timeout=10)).data)
    assert event.data["reason"] == "expired" and event.data["consent_id"] == granted["consent_id"]
    assert event.data["revoked_at"] == granted["expires_at"]
    assert holder.requests and holder.requests[0]["lease_ids"] == [lease["lease_id"]]
    assert holder.requests[0]["reason"] == "expired"
    view = await call(contract.get.subject, {"session_id": "s-1"})
    assert view["in_force"] is False and view["reason"] == "expired"


async def test_an_acquire_racing_a_revoke_is_either_refused_or_cut(consent_runtime, call, nc):
    """The race the row lock closes: no lease may come out of an acquire that the revoke did not see."""
    holder = Holder()
    await holder.subscribe(nc)
    await grant(call)

    async def try_acquire() -> str | None:
        try:
            return (await acquire(call))["lease_id"]
        except Problem as problem:
            assert problem.status == 403
            return None

    acquiring = [asyncio.create_task(try_acquire()) for _ in range(30)]
    await asyncio.sleep(0)  # let the acquires go out first, so that some land on each side of the revoke
    revoke = asyncio.create_task(
        call(contract.revoke.subject, {"session_id": "s-1", "reason": "customer_terminated"})
    )
    acquiring += [asyncio.create_task(try_acquire()) for _ in range(30)]
    granted = {lease_id for lease_id in await asyncio.gather(*acquiring) if lease_id}
    await revoke

    cut = {lease_id for request in holder.requests for lease_id in request["lease_ids"]}
    assert granted <= cut, f"leases acquired but never cut: {granted - cut}"
