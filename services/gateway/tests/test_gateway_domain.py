"""The gateway's pure rules: staff credentials, roles, who may end a session, what a customer sees."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from assist_contract.session import SessionView
from assist_gateway.domain import (
    CONSULTANT_ENDING,
    CUSTOMER_ENDING,
    ROLES,
    Ending,
    KeptEnding,
    KeptEndings,
    may_end_session,
    password_problem,
    public_session_view,
    queue_card,
    remaining_lease_wait,
    role_problem,
    session_card,
    staff_ending,
    token_digest,
    username_problem,
)
from assist_gateway.domain import ending_in_close_reason
from assist_gateway.relay.closecodes import ended_reason


@pytest.mark.parametrize("password", ["", "   ", "short", "1234567"])
def test_empty_and_short_passwords_are_refused(password: str) -> None:
    assert password_problem(password) is not None


def test_a_password_equal_to_the_username_is_refused() -> None:
    assert password_problem("Alice-the-Great", username="alice-the-great") is not None


def test_a_long_enough_password_is_accepted() -> None:
    assert password_problem("a long secret", username="alice") is None


@pytest.mark.parametrize("username", ["", " alice", "al ice", "-alice", "a" * 65, "alice/../x"])
def test_odd_usernames_are_refused(username: str) -> None:
    assert username_problem(username) is not None


@pytest.mark.parametrize("username", ["alice", "a.b-c_d", "alice@example.com", "a" * 64])
def test_plain_usernames_are_accepted(username: str) -> None:
    assert username_problem(username) is None


def test_only_the_four_roles_exist() -> None:
    assert ROLES == ("consultant", "supervisor", "finance", "admin")
    assert all(role_problem(role) is None for role in ROLES)
    assert role_problem("root") is not None


def test_tokens_are_stored_as_their_sha256() -> None:
    digest = token_digest("abc")
    assert digest == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


@pytest.mark.parametrize(
    ("username", "role", "assigned", "allowed"),
    [
        ("alice", "consultant", "alice", True),
        ("bob", "consultant", "alice", False),
        ("bob", "consultant", None, False),
        ("sue", "supervisor", "alice", True),
        ("sue", "supervisor", None, True),
        ("ada", "admin", "alice", True),
        ("fin", "finance", "fin", False),
    ],
)
def test_who_may_end_a_session(username: str, role: str, assigned: str | None, allowed: bool) -> None:
    assert may_end_session(username=username, role=role, assigned_consultant=assigned) is allowed


def session_view(**changes) -> SessionView:
    """A waiting request as the session service answers it, with `changes`."""
    fields = dict(
        session_id="s", status="waiting", service_type="consultation", description="d",
        customer={"name": "Ива", "company": "Ива ЕООД", "email": "iva@example.com", "phone": "+359 2 000"},
        consultant=None, scopes=["view"], consent_id="c", requested_at=datetime(2026, 11, 28, 9, 59, tzinfo=UTC),
        assigned_at=None, started_at=None, ended_at=None, ended_by=None, end_reason=None,
        expires_at=datetime(2026, 11, 28, 10, 59, tzinfo=UTC), agent="not_started", agent_away_since=None,
        paused_seconds=0,
    )
    return SessionView(**{**fields, **changes})


def test_a_customer_sees_the_contract_fields_and_scopes_only() -> None:
    shown = public_session_view(session_view(), agent_grace_seconds=30)
    assert shown["requested_at"] == "2026-11-28T09:59:00Z"  # JSON, as the contract writes times
    assert set(shown) == {"agent", "agent_away_since", "agent_grace_ends_at", "paused_seconds", "session_id", "status",
                          "service_type", "consultant", "requested_at", "started_at", "ended_at", "ended_by",
                          "end_reason", "scopes", "scope_request", "observers", "chat_seq"}
    assert shown["scope_request"] is None  # nothing asked: the page shows no question


@pytest.mark.parametrize(
    ("ago", "lease", "wait"), [(0.0, 5.0, 5.0), (2.0, 5.0, 3.0), (7.0, 5.0, 0.0), (-3.0, 5.0, 5.0)]
)
def test_the_lease_wait_counts_from_the_first_request(ago: float, lease: float, wait: float) -> None:
    assert remaining_lease_wait(requested_seconds_ago=ago, lease_seconds=lease) == pytest.approx(wait)


def test_the_customer_sees_when_an_away_agent_s_session_will_end() -> None:
    view = session_view(status="active", agent="away", agent_away_since=datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
                        paused_seconds=12)
    shown = public_session_view(view, agent_grace_seconds=30)
    assert (shown["agent"], shown["agent_away_since"], shown["agent_grace_ends_at"], shown["paused_seconds"]) == (
        "away", "2026-11-28T10:00:00Z", "2026-11-28T10:00:30Z", 12)
    ended = public_session_view(view.model_copy(update={"status": "ended"}), agent_grace_seconds=30)
    assert (ended["agent_away_since"], ended["agent_grace_ends_at"]) == (None, None)


def test_a_card_names_who_asks_and_since_when_and_the_queue_adds_how_to_reach_them() -> None:
    card = session_card(session_view())
    assert card == {"session_id": "s", "status": "waiting", "service_type": "consultation", "consultant": None,
                    "requested_at": "2026-11-28T09:59:00Z", "assigned_at": None, "started_at": None,
                    "ended_at": None, "expires_at": "2026-11-28T10:59:00Z", "chat_seq": 0,
                    "customer": {"name": "Ива", "company": "Ива ЕООД"}}
    assert queue_card(session_view())["customer"] == {"name": "Ива", "company": "Ива ЕООД",
                                                      "email": "iva@example.com", "phone": "+359 2 000"}


@pytest.mark.parametrize(("role", "ended_by", "reason"), [
    ("consultant", "consultant", "consultant_ended"),
    ("supervisor", "supervisor", "supervisor_ended"),
    ("admin", "supervisor", "supervisor_ended"),
])
def test_a_staff_ending_names_who_ended_it(role: str, ended_by: str, reason: str) -> None:
    assert staff_ending(role=role) == Ending(ended_by=ended_by, reason=reason)


def test_the_relay_close_reason_names_a_supervisor() -> None:
    assert ended_reason("supervisor_ended") == "session ended by supervisor"
    assert ended_reason(None, "supervisor") == "session ended by supervisor"



@pytest.mark.parametrize(("reason", "ended_by", "read_back"), [
    ("customer_terminated", None, ("customer", "customer_terminated")),
    ("consultant_ended", None, ("consultant", "consultant_ended")),
    ("supervisor_ended", None, ("supervisor", "supervisor_ended")),
    ("agent_lost", None, ("system", "agent_lost")),
    ("expired", "system", ("system", "expired")),
    (None, None, ("system", None)),
])
def test_a_close_reason_reads_back_as_who_ended_the_session_and_why(reason, ended_by, read_back):
    assert ending_in_close_reason(ended_reason(reason, ended_by)) == read_back


@pytest.mark.parametrize("text", ["", "replaced by a newer connection", "session ended by mallory",
                                  "session ended by system (x); rm -rf", "session ended by customer (admin)"])
def test_any_other_close_reason_reads_back_as_nothing(text):
    assert ending_in_close_reason(text) is None


def test_kept_endings_are_remembered_until_forgotten_and_the_oldest_go_first_past_the_memory():
    kept = KeptEndings(memory=2)
    first = KeptEnding(ending=CUSTOMER_ENDING, requested_at=datetime(2026, 11, 29, 8, 0, tzinfo=UTC))
    second = KeptEnding(ending=CONSULTANT_ENDING, requested_at=datetime(2026, 11, 29, 8, 1, tzinfo=UTC))
    kept.remember("s1", first)
    kept.remember("s2", second)
    assert (kept.get("s1"), kept.get("s2"), kept.get("s3")) == (first, second, None)
    kept.remember("s3", first)  # past the memory: s1, the oldest, is forgotten
    assert (kept.get("s1"), kept.get("s2"), kept.get("s3")) == (None, second, first)
    kept.forget("s2")
    kept.forget("never kept")
    assert kept.get("s2") is None and kept.get("s3") == first
