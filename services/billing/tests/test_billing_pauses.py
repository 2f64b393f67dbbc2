"""Fair time (issue #13): the periods the customer's agent was away are not billed. The rule, property by property,
and the closed record from a `session.ended` that carries them, over a real nats-server and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assist_billing.domain import billable_seconds
from assist_platform.envelope import rfc3339
from billing_testkit import at, ended_event, new_session_id
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


moments = st.integers(-300, 1200)
periods = st.lists(st.tuples(moments, st.one_of(st.none(), st.integers(0, 600))), max_size=12).map(
    lambda items: [(t(start), None if length is None else t(start + length)) for start, length in items]
)


def test_a_pause_inside_the_session_is_not_billed():
    assert billable_seconds(started_at=t(0), ended_at=t(600), away=[(t(100), t(130))]) == 570


def test_a_session_ended_after_its_agent_was_lost_is_billed_up_to_the_loss():
    assert billable_seconds(started_at=t(0), ended_at=t(330), away=[(t(300), None)]) == 300


def test_pauses_outside_the_active_span_are_ignored_and_overlaps_count_once():
    away = [(t(-50), t(10)), (t(590), t(700)), (t(100), t(130)), (t(120), t(140)), (t(100), t(130))]
    assert billable_seconds(started_at=t(0), ended_at=t(600), away=away) == 600 - 10 - 10 - 40


@given(st.integers(0, 900), periods)
def test_billable_is_never_negative_nor_more_than_the_active_span(length, away):
    seconds = billable_seconds(started_at=t(0), ended_at=t(length), away=away)
    assert 0 <= seconds <= length


@given(st.integers(0, 900), periods, st.randoms())
def test_order_and_repeats_of_pauses_do_not_change_the_bill(length, away, random):
    shuffled = away * 2
    random.shuffle(shuffled)
    assert billable_seconds(started_at=t(0), ended_at=t(length), away=shuffled) == billable_seconds(
        started_at=t(0), ended_at=t(length), away=away)


@given(st.integers(0, 900), periods)
def test_pauses_wholly_outside_the_active_span_change_nothing(length, away):
    outside = [(t(-400), t(-1)), (t(length + 1), None), (t(length), t(length + 50))]
    assert billable_seconds(started_at=t(0), ended_at=t(length), away=away + outside) == billable_seconds(
        started_at=t(0), ended_at=t(length), away=away)


@given(st.integers(1, 900), st.integers(0, 900))
def test_an_agent_lost_for_good_bills_exactly_up_to_the_loss(length, lost_after):
    lost = min(lost_after, length)
    assert billable_seconds(started_at=t(0), ended_at=t(length), away=[(t(lost), None)]) == lost


async def test_the_closed_record_leaves_out_every_pause_the_end_reports(billing, bus):
    session_id = new_session_id()
    event = ended_event(session_id, started_at=at(), ended_at=at(minutes=20), ended_by="system",
                        end_reason="agent_lost")
    event.data["agent_away"] = [
        {"from": rfc3339(at(minutes=5)), "to": rfc3339(at(minutes=6))},
        {"from": rfc3339(at(minutes=14)), "to": None},
    ]
    await bus.publish(event)
    closed = await bus.wait_for_closed(session_id)
    assert (closed.data["billable_seconds"], closed.data["units"]) == (13 * 60, 1)
    assert closed.data["ended_by"] == "system" and closed.data["end_reason"] == "agent_lost"


async def test_a_supervisor_end_reaches_the_billing_record(billing, bus):
    session_id = new_session_id()
    await bus.ended(session_id, started_at=at(), ended_at=at(minutes=1), ended_by="supervisor")
    closed = await bus.wait_for_closed(session_id)
    assert closed.data["ended_by"] == "supervisor"
    record = await bus.command("cmd.billing.records.get", {"record_id": closed.data["record_id"]})
    assert record["ended_by"] == "supervisor"
