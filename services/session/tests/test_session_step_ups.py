"""Step-up consent as the session sees it (issue #16): the latest request and its answer from consent's events, and
the scopes an approval grants; events read twice or late change nothing more."""

from __future__ import annotations

import uuid

import pytest
from assist_platform.envelope import CloudEvent
from assist_session import domain


@pytest.fixture
def consent_consumed(nc, wait_until):
    js = nc.jetstream()

    async def _wait() -> None:
        async def _caught_up() -> bool:
            last_seq = (await js.stream_info("CONSENT")).state.last_seq
            info = await js.consumer_info("CONSENT", "session")
            return info.ack_floor.stream_seq >= last_seq and info.num_ack_pending == 0

        await wait_until(_caught_up, what="the session consumer to acknowledge the CONSENT stream")

    return _wait


def requested(session: dict, request_id: str, at: str = "2026-11-29T10:00:00Z") -> dict:
    return {"consent_id": session["consent_id"], "session_id": session["session_id"], "request_id": request_id,
            "scopes": ["control"], "reason": "to install the driver", "requested_by": "ana", "requested_at": at}


async def test_a_request_then_its_approval_show_on_the_session_and_widen_its_scopes(
    call, request_help, publish_consent_event, consent_consumed
):
    session = await request_help(scopes=["view"])
    session = await call("cmd.session.get", {"session_id": session["session_id"]})
    request_id = str(uuid.uuid4())
    await publish_consent_event("consent.scope_requested", session["session_id"], requested(session, request_id))
    await consent_consumed()
    view = await call("cmd.session.get", {"session_id": session["session_id"]})
    assert view["scopes"] == ["view"]
    assert view["scope_request"]["status"] == "pending" and view["scope_request"]["reason"] == "to install the driver"

    approval = await publish_consent_event("consent.granted", session["session_id"], {
        "consent_id": session["consent_id"], "session_id": session["session_id"], "request_id": request_id,
        "scopes": ["control"], "scopes_in_force": ["view", "control"], "granted_at": "2026-11-29T10:01:00Z"})
    await publish_consent_event("consent.granted", session["session_id"], approval.data, event=approval)  # again
    await publish_consent_event("consent.scope_requested", session["session_id"],  # late: stays answered
                                requested(session, request_id))
    await consent_consumed()
    view = await call("cmd.session.get", {"session_id": session["session_id"]})
    assert view["scopes"] == ["view", "control"] and view["consent_id"] == session["consent_id"]
    assert view["scope_request"] == {
        "request_id": request_id, "session_id": session["session_id"], "scopes": ["control"],
        "reason": "to install the driver", "requested_by": "ana", "requested_at": "2026-11-29T10:00:00Z",
        "status": "approved", "decided_at": "2026-11-29T10:01:00Z"}


async def test_a_refusal_is_shown_and_grants_nothing(call, request_help, publish_consent_event, consent_consumed):
    session = await call("cmd.session.get", {"session_id": (await request_help(scopes=["view"]))["session_id"]})
    request_id = str(uuid.uuid4())
    await publish_consent_event("consent.scope_requested", session["session_id"], requested(session, request_id))
    await publish_consent_event("consent.scope_refused", session["session_id"], {
        "consent_id": session["consent_id"], "session_id": session["session_id"], "request_id": request_id,
        "scopes": ["control"], "refused_at": "2026-11-29T10:02:00Z"})
    await consent_consumed()
    view = await call("cmd.session.get", {"session_id": session["session_id"]})
    assert view["scopes"] == ["view"]
    assert view["scope_request"]["status"] == "refused" and view["scope_request"]["requested_by"] == "ana"


def test_the_later_request_and_an_answer_over_its_request_are_kept():
    asked = {"request_id": "r1", "status": "pending", "requested_at": "2026-11-29T10:00:00Z", "reason": "x"}
    answer = {"request_id": "r1", "status": "approved", "decided_at": "2026-11-29T10:01:00Z"}
    merged = domain.later_scope_request(asked, answer)
    assert merged["status"] == "approved" and merged["reason"] == "x"
    assert domain.later_scope_request(merged, asked) == merged  # never back to pending
    newer = {"request_id": "r2", "status": "pending", "requested_at": "2026-11-29T10:05:00Z", "reason": "y"}
    kept = domain.later_scope_request(merged, newer)
    assert kept["request_id"] == "r2" and kept["reason"] == "y"
    assert domain.later_scope_request(kept, asked) == kept  # an older request read late  # an older request read late
    assert domain.widened_scopes(["view"], ["control", "root"]) == ["view", "control"]
    assert domain.narrowed_scopes(["view", "control"], ["view", "root"]) == ["view"]


async def test_observers_joining_and_leaving_show_on_a_running_session_only(
    call, request_help, publish_consent_event, nc, wait_until
):
    js = nc.jetstream()
    session = await call("cmd.session.get", {"session_id": (await request_help(scopes=["view"]))["session_id"]})
    sid = session["session_id"]

    async def publish(kind: str, observation_id: str, observer: str, at_field: str) -> None:
        event = CloudEvent(source="assist/gateway", type=kind, subject=sid, data={
            "session_id": sid, "observation_id": observation_id, "observer": observer,
            at_field: "2026-11-29T10:00:00Z"})
        await js.publish(kind, event.to_bytes(), headers={"Nats-Msg-Id": event.id})

    async def observers_are(names):
        view = await call("cmd.session.get", {"session_id": sid})
        return view if view["observers"] == names else None

    await publish("gateway.observer_joined", "o-1", "sam", "joined_at")
    await publish("gateway.observer_joined", "o-2", "sam", "joined_at")  # a second window of the same supervisor
    await publish("gateway.observer_joined", "o-3", "ada", "joined_at")
    await wait_until(lambda: observers_are(["ada", "sam"]), what="two observers shown")
    await publish("gateway.observer_left", "o-1", "sam", "left_at")
    await publish("gateway.observer_left", "o-3", "ada", "left_at")
    await wait_until(lambda: observers_are(["sam"]), what="sam still watching from his second window")
    await publish("gateway.observer_left", "o-2", "sam", "left_at")
    await wait_until(lambda: observers_are([]), what="nobody watching")


def test_who_watches_is_each_name_once_and_nobody_after_the_end():
    watched = domain.with_observer(None, observation_id="o-1", observer="sam", ended=False)
    watched = domain.with_observer(watched, observation_id="o-2", observer="sam", ended=False)
    assert domain.watching(watched) == ["sam"]
    assert domain.watching(domain.without_observer(watched, observation_id="o-1")) == ["sam"]
    assert domain.with_observer(None, observation_id="o-3", observer="ada", ended=True) == {}
