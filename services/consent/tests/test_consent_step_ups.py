"""Step-up consent (issue #16): a consultant asks for more with a reason, the customer approves (a new grant, never
an edit of the first) or refuses (final for that request); every lease holder is told, and the scopes in force
follow the latest change of each scope."""

from __future__ import annotations

import pytest
from assist_contract import consent as contract
from assist_platform.envelope import CloudEvent
from assist_platform.problems import Problem
from assist_platform.testing import eventually, stored_messages
from consent_testkit import HOLDER, Holder, acquire, grant

REQUEST = contract.request_scopes.subject
DECIDE = contract.decide_scopes.subject
GET = contract.get.subject


async def consent_events(nc, kind: str, session_id: str = "s-1") -> list[CloudEvent]:
    events = [CloudEvent.from_bytes(msg.data) for msg in await stored_messages(nc.jetstream(), "CONSENT")]
    return [event for event in events if event.type == kind and event.subject == session_id]


async def ask(call, scopes=("control",), reason="to install the printer driver") -> dict:
    return await call(REQUEST, {"session_id": "s-1", "scopes": list(scopes), "reason": reason,
                                "requested_by": "elena"})


async def problem_of(call, subject: str, payload: dict) -> Problem:
    with pytest.raises(Problem) as refused:
        await call(subject, payload)
    return refused.value


async def test_a_view_only_session_steps_up_to_control_once_the_customer_approves(consent_runtime, call, nc):
    holder = Holder()
    await holder.subscribe(nc)
    await grant(call, scopes=("view",))
    lease = await acquire(call, endpoint="consultant")
    assert lease["scopes"] == ["view"]

    asked = await ask(call)
    assert asked["status"] == "pending" and asked["scopes"] == ["control"] and asked["requested_by"] == "elena"
    assert (await call(GET, {"session_id": "s-1"}))["scopes"] == ["view"]  # asking grants nothing
    assert (await call(GET, {"session_id": "s-1"}))["scope_request"]["request_id"] == asked["request_id"]
    await eventually(lambda: [r for r in holder.requests if r.get("scope_request")], what="the request told")
    told = holder.requests[-1]
    assert told["scopes"] == ["view"] and told["scope_request"]["status"] == "pending"
    assert told["lease_ids"] == [lease["lease_id"]]

    decided = await call(DECIDE, {"session_id": "s-1", "request_id": asked["request_id"], "approve": True,
                                  "actor": "customer", "client_address": "203.0.113.9"})
    assert decided["status"] == "approved" and decided["scopes_in_force"] == ["view", "control"]
    assert decided["decided_at"] is not None
    view = await call(GET, {"session_id": "s-1"})
    assert view["scopes"] == ["view", "control"] and view["scope_request"]["status"] == "approved"
    await eventually(lambda: [r for r in holder.requests if (r.get("scope_request") or {}).get("status")
                              == "approved"], what="the approval told")
    assert holder.requests[-1]["scopes"] == ["view", "control"]
    later = await acquire(call, endpoint="agent")
    assert later["scopes"] == ["view", "control"]
    renewal = await call(contract.lease_renew.subject, {"holder": HOLDER, "lease_ids": [lease["lease_id"]]})
    assert renewal["scopes"] == {lease["lease_id"]: ["view", "control"]}


async def test_an_approval_is_a_grant_of_its_own_in_events_audit_and_receipt(consent_runtime, call, nc):
    await Holder().subscribe(nc)
    first = await grant(call, scopes=("view",))
    asked = await ask(call)
    await call(DECIDE, {"session_id": "s-1", "request_id": asked["request_id"], "approve": True,
                        "actor": "customer", "client_address": "203.0.113.9"})
    granted = await eventually(
        lambda: _two(consent_events(nc, "consent.granted")), what="two consent.granted")
    assert granted[0].data["scopes"] == ["view"] and "request_id" not in granted[0].data
    step_up = granted[1].data
    assert step_up["request_id"] == asked["request_id"] and step_up["scopes"] == ["control"]
    assert step_up["scopes_in_force"] == ["view", "control"] and step_up["consent_id"] == first["consent_id"]
    assert step_up["actor"] == "customer" and step_up["client_address"] == "203.0.113.9"
    requested = await consent_events(nc, "consent.scope_requested")
    assert [event.data["reason"] for event in requested] == ["to install the printer driver"]

    trail = (await call(contract.audit.subject, {"session_id": "s-1"}))["entries"]
    actions = [(entry["action"], entry["actor"]) for entry in trail]
    assert actions == [("consent.granted", "customer"), ("consent.scope_requested", "elena"),
                       ("consent.granted", "customer")]
    assert trail[2]["detail"]["request_id"] == asked["request_id"]

    receipt = await call(contract.receipt.subject, {"session_id": "s-1"})
    assert receipt["scopes"] == ["view"]  # the first grant, never edited
    assert receipt["scopes_in_force"] == ["view", "control"]
    assert receipt["scope_changes"] == [{"change": "granted", "scope": "control", "at": step_up["granted_at"],
                                         "request_id": asked["request_id"],
                                         "reason": "to install the printer driver"}]
    assert receipt["audit_entry"]["id"] == trail[0]["id"]  # the receipt's entry is the first grant's


async def _two(found):
    events = await found
    return events if len(events) >= 2 else None


async def test_a_refusal_is_final_for_its_request_and_changes_nothing(consent_runtime, call, nc):
    holder = Holder()
    await holder.subscribe(nc)
    await grant(call, scopes=("view",))
    await acquire(call, endpoint="consultant")
    asked = await ask(call)
    refused = await call(DECIDE, {"session_id": "s-1", "request_id": asked["request_id"], "approve": False})
    assert refused["status"] == "refused" and refused["scopes_in_force"] == ["view"]
    again = await problem_of(call, DECIDE, {"session_id": "s-1", "request_id": asked["request_id"],
                                            "approve": True})
    assert again.status == 409 and again.extra["code"] == "scope_request_decided"
    assert (await call(GET, {"session_id": "s-1"}))["scopes"] == ["view"]
    events = await eventually(lambda: consent_events(nc, "consent.scope_refused"), what="consent.scope_refused")
    assert len(events) == 1 and events[0].data["request_id"] == asked["request_id"]
    await eventually(lambda: [r for r in holder.requests if (r.get("scope_request") or {}).get("status")
                              == "refused"], what="the refusal told")
    assert holder.requests[-1]["scopes"] == ["view"]  # told, not widened
    # A new request may follow: the refusal ended the old one only.
    assert (await ask(call, reason="once more, please"))["status"] == "pending"


async def test_one_request_waits_at_a_time_and_nothing_held_is_asked_for(consent_runtime, call):
    await grant(call, scopes=("view",))
    await ask(call)
    waiting = await problem_of(call, REQUEST, {"session_id": "s-1", "scopes": ["control"], "reason": "again",
                                               "requested_by": "elena"})
    assert waiting.status == 409 and waiting.extra["code"] == "scope_request_pending"
    held = await problem_of(call, REQUEST, {"session_id": "s-1", "scopes": ["view"], "reason": "why",
                                            "requested_by": "elena"})
    assert held.status == 409 and held.extra["code"] == "scopes_already_held"


async def test_a_withdrawn_scope_comes_back_only_by_a_step_up_approved_after_it(consent_runtime, call, nc):
    await Holder().subscribe(nc)
    await grant(call)
    await call(contract.withdraw_scope.subject, {"session_id": "s-1", "scope": "control"})
    asked = await ask(call)
    await call(DECIDE, {"session_id": "s-1", "request_id": asked["request_id"], "approve": True})
    assert (await call(GET, {"session_id": "s-1"}))["scopes"] == ["view", "control"]
    again = await call(contract.withdraw_scope.subject, {"session_id": "s-1", "scope": "control"})
    assert again["already_withdrawn"] is False and again["scopes"] == ["view"]
    assert (await call(GET, {"session_id": "s-1"}))["scopes"] == ["view"]
    receipt = await call(contract.receipt.subject, {"session_id": "s-1"})
    assert [(change["change"], change["scope"]) for change in receipt["scope_changes"]] == [
        ("granted", "control"), ("withdrawn", "control")]  # the latest withdrawal of each scope


async def test_nothing_is_asked_or_decided_for_an_ended_unknown_or_foreign_request(consent_runtime, call, nc):
    await Holder().subscribe(nc)
    await grant(call, scopes=("view",))
    await grant(call, session_id="s-2", scopes=("view",))
    asked = await ask(call)
    foreign = await problem_of(call, DECIDE, {"session_id": "s-2", "request_id": asked["request_id"],
                                              "approve": True})
    assert foreign.status == 404 and foreign.extra["code"] == "scope_request_not_found"
    unknown = await problem_of(call, REQUEST, {"session_id": "nobody", "scopes": ["control"], "reason": "r",
                                               "requested_by": "elena"})
    assert unknown.status == 404
    malformed = await problem_of(call, REQUEST, {"session_id": "s-1", "scopes": ["root"], "reason": "r",
                                                 "requested_by": "elena"})
    assert malformed.status == 422
    empty = await problem_of(call, REQUEST, {"session_id": "s-1", "scopes": ["control"], "reason": "  ",
                                             "requested_by": "elena"})
    assert empty.status == 422
    await call(contract.revoke.subject, {"session_id": "s-1", "reason": "customer_terminated"})
    ended = await problem_of(call, DECIDE, {"session_id": "s-1", "request_id": asked["request_id"],
                                            "approve": True})
    assert ended.status == 409 and ended.extra["code"] == "consent_not_in_force"
    assert (await call(GET, {"session_id": "s-1"}))["scopes"] == ["view"]
