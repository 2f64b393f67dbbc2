"""The rules of a help session, as pure functions over plain data: no FastAPI, NATS or SQL here.

waiting → assigned → active → ended; ending is allowed from every state that has not ended, and an ended session
never changes again. A transition that changes nothing returns the very same state, so callers know whether to
publish an event by comparing identity (`new is not old`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum

from assist_contract.consent_rules import SCOPES
from assist_platform.endings import (  # noqa: F401  (the reasons, re-exported for this service)
    ADMIN, AGENT_LOST, CONSULTANT_ENDED, CUSTOMER_TERMINATED, EXPIRED, SUPERVISOR_ENDED, ended_by_of,
)


class Status(StrEnum):
    WAITING = "waiting"
    ASSIGNED = "assigned"
    ACTIVE = "active"
    ENDED = "ended"


class EndedBy(StrEnum):
    CUSTOMER = "customer"
    CONSULTANT = "consultant"
    SUPERVISOR = "supervisor"  # a supervisor (or admin) ended a session that was not theirs
    SYSTEM = "system"


# The reasons a session ends for are the platform's (`assist_platform.endings`, defined once for every service);
# the session adds its own: an active session whose consent ran out of time.
CONSENT_EXPIRED = "consent_expired"

NOT_STARTED = frozenset({Status.WAITING, Status.ASSIGNED})


class SessionRuleError(Exception):
    """A request the rules refuse; `detail` says why in words a caller can show, `code` (optional) names the
    refusal for a page that says it in its own language (the problem's `code` member)."""

    code: str | None = None  # a subclass may name all its refusals at once (QueueFull, CodeGone)

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidInput(SessionRuleError):
    """The input itself is malformed (maps to 422)."""


class TransitionRefused(SessionRuleError):
    """The session is not in a state that allows this (maps to 409)."""


class CodeGone(SessionRuleError):
    """The session code existed but can no longer be used (maps to 410)."""

    code = "session_code_gone"  # the problem's machine code (refusals_as_problems carries it)


class QueueFull(SessionRuleError):
    """Too many requests already wait for a consultant (maps to 429; `retry_after` becomes Retry-After)."""

    retry_after = 60  # seconds: long enough not to invite hammering, short enough for a customer to wait
    code = "queue_full"


# ---------------------------------------------------------------- admission


def admit_request(*, waiting: int, max_waiting: int) -> None:
    """A new request joins the queue only while fewer than `max_waiting` wait unclaimed.

    Each waiting request holds a live session code and a line in every consultant's queue, so a flood of
    anonymous requests (from many addresses, past the gateway's per-address limit) stops here instead of
    burying the real customers and filling the code space. The count says nothing to the caller.
    """
    if waiting >= max_waiting:
        raise QueueFull("Too many help requests are waiting for a consultant right now; please try again later.")


# ---------------------------------------------------------------- the state machine


@dataclass(frozen=True)
class SessionState:
    status: Status = Status.WAITING
    consultant: str | None = None
    assigned_at: datetime | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    ended_by: EndedBy | None = None
    end_reason: str | None = None


def claim(state: SessionState, *, consultant: str, at: datetime) -> SessionState:
    """A consultant takes a waiting session; claiming it again by the same consultant changes nothing."""
    if state.status is Status.WAITING:
        return replace(state, status=Status.ASSIGNED, consultant=consultant, assigned_at=at)
    if state.status is Status.ASSIGNED and state.consultant == consultant:
        return state
    if state.status is Status.ASSIGNED:
        raise TransitionRefused("Another consultant has already claimed this session.", code="already_claimed")
    raise TransitionRefused(f"The session is {state.status}, not waiting.", code="not_waiting")


def activate(state: SessionState, *, at: datetime) -> SessionState:
    """Consultant and agent are both connected: the session starts (and the billing clock with it)."""
    if state.status is Status.ASSIGNED:
        return replace(state, status=Status.ACTIVE, started_at=at)
    if state.status is Status.ACTIVE:
        return state
    raise TransitionRefused(f"The session is {state.status}; only an assigned session can become active.")


def end(state: SessionState, *, ended_by: EndedBy, end_reason: str, at: datetime) -> SessionState:
    """End the session; an ended session keeps its first ended_by, end_reason and ended_at."""
    if state.status is Status.ENDED:
        return state
    # A late-recorded end (a revocation queued while NATS was away) must not end before the session started.
    ended_at = max(at, state.started_at) if state.started_at else at
    return replace(state, status=Status.ENDED, ended_at=ended_at, ended_by=ended_by, end_reason=end_reason)


def ended_by_for_revocation(reason: str) -> EndedBy:
    """Who ended the session, as a revocation's reason says (the one mapping, `assist_platform.endings`)."""
    return EndedBy(ended_by_of(reason))


def end_for_revocation(
    state: SessionState, *, reason: str, revoked_at: datetime, ended_by: EndedBy | None = None
) -> SessionState:
    """The consent was revoked: the session ends with who and why taken from the revocation (`ended_by` as the
    consent service recorded it, else as its reason says)."""
    end_reason = CONSENT_EXPIRED if reason == EXPIRED and state.status is Status.ACTIVE else reason
    return end(state, ended_by=ended_by or ended_by_for_revocation(reason), end_reason=end_reason, at=revoked_at)


# ---------------------------------------------------------------- the agent away and back

AGENT_AWAY = "away"
AGENT_BACK = "back"
# Enough for a session whose agent drops every minute for a working day; beyond it the oldest marks go.
MAX_AGENT_MARKS = 1000


class AgentPresence(StrEnum):
    NOT_STARTED = "not_started"  # the agent has not attached yet
    CONNECTED = "connected"
    AWAY = "away"  # its socket dropped; it may come back within the gateway's grace period


@dataclass(frozen=True)
class AwayPeriod:
    start: datetime
    end: datetime | None  # None: the agent is still away


def _mark_key(mark: tuple[str, datetime]) -> tuple[datetime, int]:
    # At the same instant, away sorts before back: a drop and a return reported at once make an empty pause.
    return mark[1], 0 if mark[0] == AGENT_AWAY else 1


def add_agent_mark(marks: tuple[tuple[str, datetime], ...], *, kind: str, at: datetime) -> tuple[tuple[str, datetime], ...]:
    """The gateway reported the agent away or back at `at`. Reports come from any replica, may repeat and may
    arrive out of order (the agent comes back on another replica before the first one reports the drop): the
    marks are kept as a sorted set, and `away_periods` reads them in time order. A repeat returns `marks` itself."""
    if kind not in (AGENT_AWAY, AGENT_BACK):
        raise InvalidInput(f"kind must be {AGENT_AWAY!r} or {AGENT_BACK!r}.")
    if (kind, at) in marks:
        return marks
    return tuple(sorted((*marks, (kind, at)), key=_mark_key))[-MAX_AGENT_MARKS:]


def away_periods(marks: tuple[tuple[str, datetime], ...]) -> tuple[AwayPeriod, ...]:
    """The disjoint periods the agent was away, in time order: a period starts at the first `away` while present
    and ends at the first `back` after it; a repeated `away` inside a period and a `back` while present change
    nothing."""
    periods: list[AwayPeriod] = []
    since: datetime | None = None
    for kind, at in sorted(marks, key=_mark_key):
        if kind == AGENT_AWAY and since is None:
            since = at
        elif kind == AGENT_BACK and since is not None:
            periods.append(AwayPeriod(since, at))
            since = None
    if since is not None:
        periods.append(AwayPeriod(since, None))
    return tuple(periods)


def agent_presence(*, attached: bool, periods: tuple[AwayPeriod, ...]) -> AgentPresence:
    if not attached:
        return AgentPresence.NOT_STARTED
    return AgentPresence.AWAY if periods and periods[-1].end is None else AgentPresence.CONNECTED


def paused_seconds(state: SessionState, periods: tuple[AwayPeriod, ...], *, now: datetime) -> int:
    """Whole seconds (rounded down, the customer's favour) the agent was away while the session was active,
    up to its end or `now`. Away before the start or after the end does not count: only the active span bills."""
    if state.started_at is None:
        return 0
    until = state.ended_at or now
    total = timedelta(0)
    for period in periods:
        start, end = max(period.start, state.started_at), min(period.end or until, until)
        if end > start:
            total += end - start
    return int(total.total_seconds())


# ---------------------------------------------------------------- request expiry


def request_expires_at(requested_at: datetime, *, ttl_seconds: float) -> datetime:
    return requested_at + timedelta(seconds=ttl_seconds)


def request_has_expired(state: SessionState, *, expires_at: datetime, now: datetime) -> bool:
    """Only a request nobody started expires; an active session runs until someone ends it."""
    return state.status in NOT_STARTED and now >= expires_at


def expire(state: SessionState, *, at: datetime) -> SessionState:
    if state.status not in NOT_STARTED:
        raise TransitionRefused(f"The session is {state.status}; only a request nobody started can expire.")
    return end(state, ended_by=EndedBy.SYSTEM, end_reason=EXPIRED, at=at)


# ---------------------------------------------------------------- session codes


CODE_DIGITS = 9
_CODE_PATTERN = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")


def new_session_code() -> str:
    """Nine digits, every one equally likely: short enough to read out over the phone."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def is_session_code(text: str) -> bool:
    return bool(_CODE_PATTERN.fullmatch(text))


def code_expires_at(issued_at: datetime, *, ttl_seconds: float) -> datetime:
    return issued_at + timedelta(seconds=ttl_seconds)


@dataclass(frozen=True)
class CodeState:
    expires_at: datetime
    used_at: datetime | None
    session_status: Status


def code_refusal(code: CodeState, *, now: datetime) -> str | None:
    """Why the code can no longer be used, or None when it can."""
    if code.used_at is not None:
        return "This session code has already been used."
    if code.session_status is Status.ENDED:
        return "The session of this code has ended."
    if now >= code.expires_at:
        return "This session code has expired."
    return None


def use_code(code: CodeState, *, now: datetime) -> CodeState:
    """The agent attaches with the code: it is consumed, and nobody can use it again."""
    refusal = code_refusal(code, now=now)
    if refusal:
        raise CodeGone(refusal)
    return replace(code, used_at=now)


# ---------------------------------------------------------------- customer token


def new_customer_token() -> str:
    return secrets.token_urlsafe(32)


def hash_customer_token(token: str) -> str:
    """Only this hash is stored: a leaked database does not hand out customers' credentials."""
    return hashlib.sha256(token.encode()).hexdigest()


# ---------------------------------------------------------------- what a request must look like


MAX_NAME_LENGTH = 200
MAX_EMAIL_LENGTH = 254
MAX_COMPANY_LENGTH = 200
MAX_PHONE_LENGTH = 40
MAX_DESCRIPTION_LENGTH = 4000
MAX_CONSULTANT_LENGTH = 200
# One @, something on either side, a dot in the domain, no spaces: the shape, not deliverability.
_EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_PHONE_PATTERN = re.compile(r"\+?[0-9 ()./-]{3,}")
_REASON_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")


@dataclass(frozen=True)
class Customer:
    name: str
    email: str
    company: str | None = None
    phone: str | None = None

    def as_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "email": self.email, "company": self.company, "phone": self.phone}


def _text(value: str | None, *, field: str, max_length: int, required: bool) -> str | None:
    cleaned = (value or "").strip()
    if not cleaned:
        if required:
            raise InvalidInput(f"{field} must not be empty.")
        return None
    if len(cleaned) > max_length:
        raise InvalidInput(f"{field} must be at most {max_length} characters.")
    return cleaned


def validate_customer(*, name: str, email: str, company: str | None = None, phone: str | None = None) -> Customer:
    customer = Customer(
        name=_text(name, field="customer.name", max_length=MAX_NAME_LENGTH, required=True),
        email=_text(email, field="customer.email", max_length=MAX_EMAIL_LENGTH, required=True),
        company=_text(company, field="customer.company", max_length=MAX_COMPANY_LENGTH, required=False),
        phone=_text(phone, field="customer.phone", max_length=MAX_PHONE_LENGTH, required=False),
    )
    if not _EMAIL_PATTERN.fullmatch(customer.email):
        raise InvalidInput("customer.email is not an email address.")
    if customer.phone is not None and not _PHONE_PATTERN.fullmatch(customer.phone):
        raise InvalidInput("customer.phone may hold only digits, spaces, +, (, ), ., / and -.")
    return customer


def validate_description(description: str) -> str:
    cleaned = description.strip()
    if len(cleaned) > MAX_DESCRIPTION_LENGTH:
        raise InvalidInput(f"description must be at most {MAX_DESCRIPTION_LENGTH} characters.")
    return cleaned


def validate_service_type(service_type: str, *, allowed: tuple[str, ...]) -> str:
    if service_type not in allowed:
        raise InvalidInput(f"Unknown service type {service_type!r}; allowed: {', '.join(allowed)}.")
    return service_type


def validate_scopes(scopes: list[str]) -> list[str]:
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown:
        raise InvalidInput(f"Unknown scopes {', '.join(unknown)}; allowed: {', '.join(SCOPES)}.")
    # Keep the canonical order and drop repeats, so equal grants look equal.
    return [scope for scope in SCOPES if scope in scopes]


def validate_consultant(consultant: str) -> str:
    return _text(consultant, field="consultant", max_length=MAX_CONSULTANT_LENGTH, required=True)


def validate_end_reason(end_reason: str) -> str:
    if not _REASON_PATTERN.fullmatch(end_reason):
        raise InvalidInput("end_reason must be a lower-case word such as customer_terminated (a-z, 0-9, _).")
    return end_reason


def widened_scopes(scopes: list[str], granted: list[str]) -> list[str]:
    """A session's scopes once a step-up the customer approved granted `granted` too (canonical order)."""
    return validate_scopes([*scopes, *(scope for scope in granted if scope in SCOPES)])


def narrowed_scopes(scopes: list[str], allowed: list[str]) -> list[str]:
    """A session's scopes once a withdrawal left the consent allowing only `allowed`: never more than it had."""
    kept = set(allowed)
    return [scope for scope in scopes if scope in kept]


def later_scope_request(current: dict | None, incoming: dict) -> dict:
    """Which view of a step-up request the session keeps: the later request, and of one request its answer merged
    into what was asked (the answer carries no reason or requester of its own); events read late or twice never
    bring an answered request back to pending. An answer read before its request (never, in one ordered stream)
    stands with what it says."""
    if current is not None and current.get("request_id") == incoming.get("request_id"):
        return {**current, **incoming} if current.get("status") == "pending" else current
    if current is not None and str(incoming.get("requested_at") or incoming.get("decided_at")) < str(
            current.get("requested_at")):
        return current
    return {"reason": "", "requested_by": "", "requested_at": incoming.get("decided_at"), **incoming}


def watching(observers: dict | None) -> list[str]:
    """Who watches the session now, each name once, in order (a supervisor may watch from two windows)."""
    return sorted(set((observers or {}).values()))


def with_observer(observers: dict | None, *, observation_id: str, observer: str, ended: bool) -> dict:
    """An observer joined: counted while the session runs (an ended session is watched by nobody)."""
    if ended:
        return dict(observers or {})
    return {**(observers or {}), observation_id: observer}


def without_observer(observers: dict | None, *, observation_id: str) -> dict:
    return {key: who for key, who in (observers or {}).items() if key != observation_id}


CHAT_MAX_CHARACTERS = 2000


def chat_text(text: str) -> str:
    """A chat message as kept: control characters other than line breaks and tabs dropped (the pages and the agent
    escape it again when they show it), surrounding blank space trimmed; InvalidInput when nothing is left."""
    kept = "".join(ch for ch in text if ch in "\n\t" or (ch.isprintable() and ch not in "\u2028\u2029"))
    kept = kept.strip()
    if not kept:
        raise InvalidInput("A chat message needs some text.")
    if len(kept) > CHAT_MAX_CHARACTERS:
        raise InvalidInput(f"A chat message is at most {CHAT_MAX_CHARACTERS} characters.")
    return kept


def may_chat(status: Status) -> bool:
    """From the request on (a waiting customer can already say more) until the session ends."""
    return status is not Status.ENDED
