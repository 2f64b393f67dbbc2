"""A scope taken back while the session goes on (issue #16): recorded once, narrowed at every holder before the
answer, told by `consent.scope_withdrawn`, and in force for every later lease, renewal and view."""

from __future__ import annotations

import time

import pytest
from assist_contract import consent as contract
from assist_platform.envelope import CloudEvent
from assist_platform.problems import Problem
from assist_platform.testing import eventually, stored_messages
from consent_testkit import HOLDER, Holder, acquire, both_ends_leased_by_a_slow_holder, grant

WITHDRAW = contract.withdraw_scope.subject


async def withdrawn_events(nc, session_id: str = "s-1") -> list[CloudEvent]:
    events = [CloudEvent.from_bytes(msg.data) for msg in await stored_messages(nc.jetstream(), "CONSENT")]
    return [event for event in events if event.type == "consent.scope_withdrawn" and event.subject == session_id]


async def test_a_withdrawal_answers_only_after_every_holder_narrowed_to_the_scopes_left(consent_runtime, call, nc):
    holder, agent, consultant = await both_ends_leased_by_a_slow_holder(call, nc)
    answer = await call(WITHDRAW, {"session_id": "s-1", "scope": "control", "actor": "customer",
                                   "client_address": "203.0.113.9"})
    replied_at = time.monotonic()
    assert holder.requests == [{"session_id": "s-1", "lease_ids": sorted([agent["lease_id"], consultant["lease_id"]]),
                                "scopes": ["view"]}]
    assert holder.confirmed_at is not None and replied_at >= holder.confirmed_at
    assert answer["scopes"] == ["view"] and answer["scope"] == "control" and answer["already_withdrawn"] is False
    view = await call(contract.get.subject, {"session_id": "s-1"})
    assert view["scopes"] == ["view"] and view["in_force"] is True


async def test_the_withdrawal_is_recorded_once_with_its_event_and_audit_entry(consent_runtime, call, nc):
    await Holder().subscribe(nc)
    await grant(call)
    first = await call(WITHDRAW, {"session_id": "s-1", "scope": "control", "actor": "customer"})
    again = await call(WITHDRAW, {"session_id": "s-1", "scope": "control"})
    assert again["already_withdrawn"] is True and again["withdrawn_at"] == first["withdrawn_at"]
    assert again["scopes"] == ["view"]
    events = await eventually(lambda: withdrawn_events(nc), what="consent.scope_withdrawn")
    assert len(events) == 1
    assert events[0].data["scope"] == "control" and events[0].data["scopes"] == ["view"]
    assert events[0].data["actor"] == "customer"
    trail = await call(contract.audit.subject, {"session_id": "s-1"})
    actions = [entry["action"] for entry in trail["entries"]]
    assert actions.count("consent.scope_withdrawn") == 1


async def test_later_leases_and_renewals_carry_only_the_scopes_left(consent_runtime, call, nc):
    await Holder().subscribe(nc)
    await grant(call)
    before = await acquire(call)
    renewal = await call(contract.lease_renew.subject, {"holder": HOLDER, "lease_ids": [before["lease_id"]]})
    assert renewal["scopes"] == {}  # nothing withdrawn: the renewal says nothing of scopes
    await call(WITHDRAW, {"session_id": "s-1", "scope": "control"})
    after = await acquire(call, endpoint="consultant")
    assert after["scopes"] == ["view"]
    renewal = await call(contract.lease_renew.subject,
                         {"holder": HOLDER, "lease_ids": [before["lease_id"], after["lease_id"]]})
    # A holder that missed the cut request narrows at its next renewal.
    assert renewal["scopes"] == {before["lease_id"]: ["view"], after["lease_id"]: ["view"]}


async def test_withdrawing_view_would_leave_no_access_so_it_is_refused_as_a_revoke_s_job(consent_runtime, call):
    await grant(call)
    with pytest.raises(Problem) as refused:
        await call(WITHDRAW, {"session_id": "s-1", "scope": "view"})
    assert refused.value.status == 409 and refused.value.extra.get("code") == "withdrawal_ends_session"
    assert (await call(contract.get.subject, {"session_id": "s-1"}))["scopes"] == ["view", "control"]


async def test_nothing_is_withdrawn_from_an_ended_an_unknown_or_a_malformed_request(consent_runtime, call, nc):
    await Holder().subscribe(nc)
    with pytest.raises(Problem) as unknown:
        await call(WITHDRAW, {"session_id": "nobody", "scope": "control"})
    assert unknown.value.status == 404
    await grant(call)
    with pytest.raises(Problem) as malformed:
        await call(WITHDRAW, {"session_id": "s-1", "scope": "admin"})
    assert malformed.value.status == 422
    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "customer_terminated"})
    with pytest.raises(Problem) as ended:
        await call(WITHDRAW, {"session_id": "s-1", "scope": "control"})
    assert ended.value.status == 409 and ended.value.extra.get("code") == "consent_not_in_force"
    assert await withdrawn_events(nc) == []
