"""The agent away and back (issue #13): the rule that turns the gateway's reports into pauses, and the commands
and events over a real nats-server and database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assist_platform.envelope import CloudEvent, rfc3339
from assist_session import domain
from assist_session.domain import AGENT_AWAY, AGENT_BACK, AgentPresence, AwayPeriod, SessionState, Status
from hypothesis import given
from hypothesis import strategies as st

T0 = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)


def t(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def marks_of(*reports: tuple[str, float]) -> tuple:
    marks: tuple = ()
    for kind, seconds in reports:
        marks = domain.add_agent_mark(marks, kind=kind, at=t(seconds))
    return marks


reports = st.lists(st.tuples(st.sampled_from([AGENT_AWAY, AGENT_BACK]), st.integers(0, 600)), max_size=30)


def test_a_drop_and_a_return_make_one_period():
    assert domain.away_periods(marks_of((AGENT_AWAY, 10), (AGENT_BACK, 15))) == (AwayPeriod(t(10), t(15)),)


def test_a_return_reported_before_the_drop_makes_the_same_period():
    assert domain.away_periods(marks_of((AGENT_BACK, 15), (AGENT_AWAY, 10))) == (AwayPeriod(t(10), t(15)),)


def test_a_repeated_drop_inside_a_period_does_not_move_its_start():
    marks = marks_of((AGENT_AWAY, 10), (AGENT_AWAY, 12), (AGENT_BACK, 15))
    assert domain.away_periods(marks) == (AwayPeriod(t(10), t(15)),)


def test_a_report_already_kept_returns_the_same_marks():
    marks = marks_of((AGENT_AWAY, 10))
    assert domain.add_agent_mark(marks, kind=AGENT_AWAY, at=t(10)) is marks


def test_an_agent_still_away_has_an_open_period():
    periods = domain.away_periods(marks_of((AGENT_AWAY, 10)))
    assert periods == (AwayPeriod(t(10), None),)
    assert domain.agent_presence(attached=True, periods=periods) is AgentPresence.AWAY
    assert domain.agent_presence(attached=False, periods=()) is AgentPresence.NOT_STARTED
    assert domain.agent_presence(attached=True, periods=domain.away_periods(marks_of((AGENT_AWAY, 1), (AGENT_BACK, 2)))
                                 ) is AgentPresence.CONNECTED


@given(reports, st.randoms())
def test_the_periods_do_not_depend_on_the_order_or_repeats_of_reports(reported, random):
    shuffled = list(reported) * 2
    random.shuffle(shuffled)
    assert domain.away_periods(marks_of(*reported)) == domain.away_periods(marks_of(*shuffled))


@given(reports)
def test_periods_are_disjoint_and_in_time_order(reported):
    periods = domain.away_periods(marks_of(*reported))
    for period in periods:
        assert period.end is None or period.end >= period.start
    for earlier, later in zip(periods, periods[1:]):
        assert earlier.end is not None and earlier.end <= later.start


@given(reports, st.integers(0, 600), st.integers(0, 600), st.integers(0, 600))
def test_paused_seconds_count_only_the_active_span(reported, start, length, now):
    state = SessionState(status=Status.ENDED, started_at=t(start), ended_at=t(start + length))
    paused = domain.paused_seconds(state, domain.away_periods(marks_of(*reported)), now=t(now))
    assert 0 <= paused <= length


def test_a_pause_before_the_start_or_after_the_end_is_not_counted():
    state = SessionState(status=Status.ENDED, started_at=t(100), ended_at=t(200))
    marks = marks_of((AGENT_AWAY, 50), (AGENT_BACK, 110), (AGENT_AWAY, 150), (AGENT_BACK, 160), (AGENT_AWAY, 190))
    assert domain.paused_seconds(state, domain.away_periods(marks), now=t(999)) == 10 + 10 + 10
    assert domain.paused_seconds(SessionState(status=Status.ASSIGNED), domain.away_periods(marks), now=t(999)) == 0


def test_a_running_session_counts_the_pause_so_far():
    state = SessionState(status=Status.ACTIVE, started_at=t(0))
    assert domain.paused_seconds(state, domain.away_periods(marks_of((AGENT_AWAY, 30))), now=t(42)) == 12


def test_a_session_ended_by_a_supervisor_says_so():
    ended = domain.end(SessionState(status=Status.ACTIVE, started_at=t(0)), ended_by=domain.EndedBy.SUPERVISOR,
                       end_reason=domain.SUPERVISOR_ENDED, at=t(5))
    assert ended.ended_by is domain.EndedBy.SUPERVISOR
    assert domain.ended_by_for_revocation(domain.SUPERVISOR_ENDED) is domain.EndedBy.SUPERVISOR


# ---------------------------------------------------------------- over NATS and the database


async def test_the_agent_away_and_back_are_recorded_published_once_and_carried_by_the_end(
    call, request_help, session_events, end_session
):
    requested = await request_help()
    session_id = requested["session_id"]
    await call("cmd.session.claim", {"session_id": session_id, "consultant": "ana"})
    waiting = await call("cmd.session.get", {"session_id": session_id})
    assert (waiting["agent"], waiting["agent_away_since"], waiting["paused_seconds"]) == ("not_started", None, 0)
    await call("cmd.session.attach_agent", {"session_code": requested["session_code"]})
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=60)
    await call("cmd.session.activate", {"session_id": session_id, "at": rfc3339(started)})
    assert (await call("cmd.session.get", {"session_id": session_id}))["agent"] == "connected"

    away, back = started + timedelta(seconds=10), started + timedelta(seconds=17)
    # The return is reported first (the agent came back on another replica), then the drop, twice.
    for subject, at in (("agent_back", back), ("agent_away", away), ("agent_away", away)):
        await call(f"cmd.session.{subject}", {"session_id": session_id, "at": rfc3339(at)})
    view = await call("cmd.session.get", {"session_id": session_id})
    assert (view["agent"], view["agent_away_since"], view["paused_seconds"]) == ("connected", None, 7)

    lost_at = started + timedelta(seconds=40)
    view = await call("cmd.session.agent_away", {"session_id": session_id, "at": rfc3339(lost_at)})
    assert view["agent"] == "away" and view["agent_away_since"] == rfc3339(lost_at)
    ended_at = started + timedelta(seconds=50)
    await end_session(session_id, ended_by="system", end_reason="agent_lost", ended_at=rfc3339(ended_at))
    # After the end nothing changes any more.
    after = await call("cmd.session.agent_back", {"session_id": session_id, "at": rfc3339(ended_at)})
    assert after["paused_seconds"] == 7 + 10

    events = [CloudEvent.from_bytes(message.data) for message in await session_events(session_id)]
    agent_events = [(event.type, event.data) for event in events if event.type.startswith("session.agent_")]
    assert agent_events == [
        ("session.agent_lost", {"session_id": session_id, "at": rfc3339(away)}),
        ("session.agent_returned", {"session_id": session_id, "at": rfc3339(back)}),
        ("session.agent_lost", {"session_id": session_id, "at": rfc3339(lost_at)}),
    ]
    (ended,) = [event for event in events if event.type == "session.ended"]
    assert ended.data["agent_away"] == [{"from": rfc3339(away), "to": rfc3339(back)},
                                        {"from": rfc3339(lost_at), "to": None}]
    assert ended.data["paused_seconds"] == 17


async def test_a_supervisor_end_is_recorded_as_the_supervisor_s(call, request_help, end_session):
    session_id = (await request_help())["session_id"]
    await call("cmd.session.claim", {"session_id": session_id, "consultant": "ana"})
    ended = await end_session(session_id, ended_by="supervisor", end_reason="supervisor_ended")
    assert (ended["ended_by"], ended["end_reason"]) == ("supervisor", "supervisor_ended")
