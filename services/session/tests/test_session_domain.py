"""The session rules, pure: every state against every action, the codes, the token, expiry and input checks."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from assist_session import domain
from assist_session.domain import (
    CodeGone,
    CodeState,
    EndedBy,
    InvalidInput,
    SessionState,
    Status,
    TransitionRefused,
)

T0 = datetime(2025, 1, 1, 9, 0, tzinfo=UTC)
T1 = T0 + timedelta(minutes=1)
T2 = T0 + timedelta(minutes=2)
T3 = T0 + timedelta(minutes=3)

WAITING = SessionState()
ASSIGNED = SessionState(status=Status.ASSIGNED, consultant="ana", assigned_at=T1)
ACTIVE = SessionState(status=Status.ACTIVE, consultant="ana", assigned_at=T1, started_at=T2)
ENDED = SessionState(
    status=Status.ENDED, consultant="ana", assigned_at=T1, started_at=T2, ended_at=T3,
    ended_by=EndedBy.CUSTOMER, end_reason="customer_terminated",
)
ALL_STATES = {Status.WAITING: WAITING, Status.ASSIGNED: ASSIGNED, Status.ACTIVE: ACTIVE, Status.ENDED: ENDED}


# ---------------------------------------------------------------- claim


def test_a_waiting_session_is_claimed_by_the_consultant():
    claimed = domain.claim(WAITING, consultant="ana", at=T1)
    assert claimed == SessionState(status=Status.ASSIGNED, consultant="ana", assigned_at=T1)


def test_claiming_again_by_the_same_consultant_changes_nothing():
    assert domain.claim(ASSIGNED, consultant="ana", at=T2) is ASSIGNED


def test_a_session_another_consultant_has_cannot_be_claimed():
    with pytest.raises(TransitionRefused, match="Another consultant"):
        domain.claim(ASSIGNED, consultant="boris", at=T2)


@pytest.mark.parametrize("state", [ACTIVE, ENDED], ids=["active", "ended"])
@pytest.mark.parametrize("consultant", ["ana", "boris"])
def test_a_session_that_is_not_waiting_cannot_be_claimed(state, consultant):
    with pytest.raises(TransitionRefused, match="not waiting"):
        domain.claim(state, consultant=consultant, at=T3)


# ---------------------------------------------------------------- activate


def test_only_an_assigned_session_becomes_active_and_starts_its_clock():
    assert domain.activate(ASSIGNED, at=T2) == ACTIVE


def test_activating_an_active_session_changes_nothing():
    assert domain.activate(ACTIVE, at=T3) is ACTIVE


@pytest.mark.parametrize("state", [WAITING, ENDED], ids=["waiting", "ended"])
def test_a_waiting_or_ended_session_cannot_become_active(state):
    with pytest.raises(TransitionRefused, match="only an assigned session"):
        domain.activate(state, at=T3)


# ---------------------------------------------------------------- end


@pytest.mark.parametrize("status", [Status.WAITING, Status.ASSIGNED, Status.ACTIVE])
@pytest.mark.parametrize("ended_by", list(EndedBy))
def test_every_session_that_has_not_ended_can_end(status, ended_by):
    before = ALL_STATES[status]
    after = domain.end(before, ended_by=ended_by, end_reason="admin", at=T3)
    assert (after.status, after.ended_by, after.end_reason, after.ended_at) == (Status.ENDED, ended_by, "admin", T3)
    assert (after.consultant, after.assigned_at, after.started_at) == (
        before.consultant, before.assigned_at, before.started_at,
    )


@pytest.mark.parametrize("ended_by", list(EndedBy))
def test_ending_an_ended_session_keeps_the_first_end(ended_by):
    assert domain.end(ENDED, ended_by=ended_by, end_reason="consultant_ended", at=T3 + timedelta(hours=1)) is ENDED


def test_an_end_recorded_before_the_start_is_moved_to_the_start():
    ended = domain.end(ACTIVE, ended_by=EndedBy.CUSTOMER, end_reason="customer_terminated", at=T1)
    assert ended.ended_at == ACTIVE.started_at


def test_a_session_never_started_keeps_no_start_when_it_ends():
    assert domain.end(ASSIGNED, ended_by=EndedBy.CONSULTANT, end_reason="consultant_ended", at=T3).started_at is None


# ---------------------------------------------------------------- revocation


@pytest.mark.parametrize(
    ("reason", "ended_by"),
    [
        ("customer_terminated", EndedBy.CUSTOMER),
        ("consultant_ended", EndedBy.CONSULTANT),
        ("expired", EndedBy.SYSTEM),
        ("agent_lost", EndedBy.SYSTEM),
        ("admin", EndedBy.SYSTEM),
        ("anything_new", EndedBy.SYSTEM),
    ],
)
def test_who_ended_follows_the_revocation_reason(reason, ended_by):
    assert domain.ended_by_for_revocation(reason) is ended_by


@pytest.mark.parametrize("reason", ["customer_terminated", "consultant_ended", "agent_lost", "admin"])
@pytest.mark.parametrize("status", [Status.WAITING, Status.ASSIGNED, Status.ACTIVE])
def test_a_revocation_ends_the_session_with_its_reason(reason, status):
    ended = domain.end_for_revocation(ALL_STATES[status], reason=reason, revoked_at=T3)
    assert (ended.status, ended.end_reason, ended.ended_at) == (Status.ENDED, reason, T3)
    assert ended.ended_by is domain.ended_by_for_revocation(reason)


def test_a_consent_that_expired_during_the_session_ends_it_as_consent_expired():
    ended = domain.end_for_revocation(ACTIVE, reason="expired", revoked_at=T3)
    assert (ended.ended_by, ended.end_reason) == (EndedBy.SYSTEM, "consent_expired")


@pytest.mark.parametrize("status", [Status.WAITING, Status.ASSIGNED])
def test_a_consent_that_expired_before_the_start_ends_the_request_as_expired(status):
    ended = domain.end_for_revocation(ALL_STATES[status], reason="expired", revoked_at=T3)
    assert (ended.ended_by, ended.end_reason, ended.started_at) == (EndedBy.SYSTEM, "expired", None)


@pytest.mark.parametrize("reason", ["customer_terminated", "consultant_ended", "expired", "agent_lost", "admin"])
def test_a_revocation_after_the_end_changes_nothing(reason):
    assert domain.end_for_revocation(ENDED, reason=reason, revoked_at=T3 + timedelta(hours=1)) is ENDED


# ---------------------------------------------------------------- request expiry


def test_a_request_expires_its_time_to_live_after_it_was_made():
    assert domain.request_expires_at(T0, ttl_seconds=1800) == T0 + timedelta(minutes=30)


@pytest.mark.parametrize(
    ("status", "now", "expired"),
    [
        (Status.WAITING, T3 - timedelta(microseconds=1), False),
        (Status.WAITING, T3, True),
        (Status.ASSIGNED, T3 - timedelta(microseconds=1), False),
        (Status.ASSIGNED, T3 + timedelta(days=1), True),
        (Status.ACTIVE, T3 + timedelta(days=1), False),
        (Status.ENDED, T3 + timedelta(days=1), False),
    ],
)
def test_only_a_request_nobody_started_expires_and_only_at_its_deadline(status, now, expired):
    assert domain.request_has_expired(ALL_STATES[status], expires_at=T3, now=now) is expired


@pytest.mark.parametrize("status", [Status.WAITING, Status.ASSIGNED])
def test_an_expired_request_ends_by_the_system_and_is_never_started(status):
    ended = domain.expire(ALL_STATES[status], at=T3)
    assert (ended.status, ended.ended_by, ended.end_reason, ended.started_at, ended.ended_at) == (
        Status.ENDED, EndedBy.SYSTEM, "expired", None, T3,
    )


@pytest.mark.parametrize("status", [Status.ACTIVE, Status.ENDED])
def test_a_started_or_ended_session_cannot_expire(status):
    with pytest.raises(TransitionRefused):
        domain.expire(ALL_STATES[status], at=T3)


# ---------------------------------------------------------------- session codes


def test_a_session_code_is_nine_digits():
    codes = {domain.new_session_code() for _ in range(2000)}
    assert all(len(code) == 9 and code.isdigit() for code in codes)
    assert len(codes) > 1990  # drawn at random from a billion, so repeats are all but impossible
    assert any(code.startswith("0") for code in {domain.new_session_code() for _ in range(200)})


@pytest.mark.parametrize(
    ("text", "valid"),
    [("012345678", True), ("12345678", False), ("1234567890", False), ("12345678a", False), (" 12345678", False),
     ("１２３４５６７８９", False)],
)
def test_only_nine_ascii_digits_look_like_a_session_code(text, valid):
    assert domain.is_session_code(text) is valid


def test_a_code_expires_its_time_to_live_after_it_was_issued():
    assert domain.code_expires_at(T0, ttl_seconds=900) == T0 + timedelta(minutes=15)


@pytest.mark.parametrize("status", [Status.WAITING, Status.ASSIGNED, Status.ACTIVE])
def test_an_unused_unexpired_code_of_a_running_session_can_be_used_once(status):
    code = CodeState(expires_at=T3, used_at=None, session_status=status)
    assert domain.code_refusal(code, now=T2) is None
    used = domain.use_code(code, now=T2)
    assert used.used_at == T2 and domain.code_refusal(used, now=T2) is not None
    with pytest.raises(CodeGone, match="already been used"):
        domain.use_code(used, now=T2)


def test_a_code_cannot_be_used_from_its_expiry_on():
    with pytest.raises(CodeGone, match="expired"):
        domain.use_code(CodeState(expires_at=T3, used_at=None, session_status=Status.WAITING), now=T3)


def test_the_code_of_an_ended_session_cannot_be_used():
    with pytest.raises(CodeGone, match="ended"):
        domain.use_code(CodeState(expires_at=T3, used_at=None, session_status=Status.ENDED), now=T1)


# ---------------------------------------------------------------- customer token


def test_the_customer_token_is_random_and_kept_only_as_its_sha256():
    token = domain.new_customer_token()
    assert len(token) >= 43 and token != domain.new_customer_token()
    assert domain.hash_customer_token(token) == hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- input


def test_a_customer_is_trimmed_and_optional_fields_may_be_left_out():
    customer = domain.validate_customer(name="  Ana Ivanova ", email=" ana@example.bg ", company="", phone=None)
    assert customer.as_dict() == {"name": "Ana Ivanova", "email": "ana@example.bg", "company": None, "phone": None}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "  ", "email": "a@b.bg"}, "customer.name must not be empty"),
        ({"name": "x" * 201, "email": "a@b.bg"}, "customer.name must be at most 200"),
        ({"name": "Ana", "email": ""}, "customer.email must not be empty"),
        ({"name": "Ana", "email": "ana.example.bg"}, "not an email address"),
        ({"name": "Ana", "email": "ana@localhost"}, "not an email address"),
        ({"name": "Ana", "email": "a na@b.bg"}, "not an email address"),
        ({"name": "Ana", "email": "a@@b.bg"}, "not an email address"),
        ({"name": "Ana", "email": "a" * 250 + "@b.bg"}, "customer.email must be at most 254"),
        ({"name": "Ana", "email": "a@b.bg", "company": "c" * 201}, "customer.company must be at most 200"),
        ({"name": "Ana", "email": "a@b.bg", "phone": "call me"}, "customer.phone may hold only"),
    ],
)
def test_a_customer_without_a_name_or_a_sane_email_is_refused(fields, message):
    with pytest.raises(InvalidInput, match=message):
        domain.validate_customer(**fields)


def test_a_phone_number_may_carry_the_usual_punctuation():
    assert domain.validate_customer(name="Ana", email="a@b.bg", phone="+359 (2) 123-45/67").phone == "+359 (2) 123-45/67"


def test_a_description_may_be_empty_but_not_longer_than_4000_characters():
    assert domain.validate_description("  printer  ") == "printer"
    assert domain.validate_description("x" * 4000) == "x" * 4000
    with pytest.raises(InvalidInput, match="at most 4000"):
        domain.validate_description("x" * 4001)


def test_an_unknown_service_type_is_refused_naming_the_allowed_ones():
    allowed = ("consultation", "system_help")
    assert domain.validate_service_type("consultation", allowed=allowed) == "consultation"
    with pytest.raises(InvalidInput, match="'gardening'; allowed: consultation, system_help"):
        domain.validate_service_type("gardening", allowed=allowed)


def test_scopes_are_view_and_control_only_in_their_canonical_order():
    assert domain.validate_scopes(["control", "view", "view"]) == ["view", "control"]
    assert domain.validate_scopes([]) == []
    with pytest.raises(InvalidInput, match="Unknown scopes root"):
        domain.validate_scopes(["view", "root"])


def test_a_consultant_needs_a_name():
    assert domain.validate_consultant(" ana ") == "ana"
    with pytest.raises(InvalidInput):
        domain.validate_consultant("   ")


@pytest.mark.parametrize(("reason", "valid"), [("customer_terminated", True), ("admin", True), ("", False),
                                               ("Customer", False), ("drop table", False), ("a" * 65, False)])
def test_an_end_reason_is_a_lower_case_word(reason, valid):
    if valid:
        assert domain.validate_end_reason(reason) == reason
    else:
        with pytest.raises(InvalidInput):
            domain.validate_end_reason(reason)


# ---------------------------------------------------------------- admission


@pytest.mark.parametrize("waiting", [0, 1, 4])
def test_a_request_is_admitted_while_fewer_than_the_cap_wait(waiting):
    domain.admit_request(waiting=waiting, max_waiting=5)


@pytest.mark.parametrize("waiting", [5, 6, 1000])
def test_a_request_is_refused_once_the_cap_of_waiting_requests_is_reached(waiting):
    with pytest.raises(domain.QueueFull) as refused:
        domain.admit_request(waiting=waiting, max_waiting=5)
    assert refused.value.retry_after > 0
    assert str(waiting) not in refused.value.detail  # the queue's length is nobody's business outside
