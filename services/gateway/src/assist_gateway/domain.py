"""The gateway's pure rules: staff roles and credentials, who may see or end a session, and what they see."""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from assist_contract.session import SessionView
from assist_platform.endings import (  # noqa: F401  (who ends a session and why, defined once for all)
    AGENT_LOST_ENDING, CONSULTANT_ENDING, CUSTOMER_ENDING, SUPERVISOR_ENDING, Ending,
)
from assist_platform.envelope import rfc3339_or_none

CONSULTANT, SUPERVISOR, FINANCE, ADMIN = "consultant", "supervisor", "finance", "admin"
ROLES = (CONSULTANT, SUPERVISOR, FINANCE, ADMIN)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
_USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

# Staff roles that look at sessions at all: a consultant the queue's cards and the full record of their own
# sessions, supervisors and admins every session (`may_read_session`).
SESSION_VIEWER_ROLES = (CONSULTANT, SUPERVISOR, ADMIN)
# Staff roles that may end a session they are not assigned to.
SESSION_OVERSEER_ROLES = (SUPERVISOR, ADMIN)
# The fields a customer sees of their session: the contract's, plus the scopes they granted.
PUBLIC_SESSION_FIELDS = (
    "session_id",
    "status",
    "service_type",
    "consultant",
    "requested_at",
    "started_at",
    "ended_at",
    "ended_by",
    "end_reason",
    "scopes",
    "scope_request",  # a step-up request the customer is asked to answer, and its answer
    "observers",  # who watches now, view only (supervisors): the customer is always shown
    "chat_seq",  # the latest chat message's number: the page fetches the chat when it grows
)


def username_problem(username: str) -> str | None:
    """Why `username` is unacceptable, or None."""
    if not _USERNAME.match(username or ""):
        return "A username is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit."
    return None


def password_problem(password: str, *, username: str = "") -> str | None:
    """Why `password` is too weak, or None. Length is what matters; composition rules do not help."""
    if not password or not password.strip():
        return "The password is empty."
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"The password must be at least {MIN_PASSWORD_LENGTH} characters long."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"The password must be at most {MAX_PASSWORD_LENGTH} characters long."
    if username and password.lower() == username.lower():
        return "The password must not be the username."
    return None


def role_problem(role: str) -> str | None:
    if role not in ROLES:
        return f"Unknown role {role!r}; a role is one of {', '.join(ROLES)}."
    return None


def token_digest(token: str) -> str:
    """How a bearer token is stored: a leaked table gives nobody a usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


def staff_ending(*, role: str) -> Ending:
    """A consultant ends their own session; a supervisor or admin ending one is recorded as the supervisor's, so
    the customer, the bill and the audit trail say who really ended it."""
    return CONSULTANT_ENDING if role == CONSULTANT else SUPERVISOR_ENDING


def may_end_session(*, username: str, role: str, assigned_consultant: str | None) -> bool:
    """The assigned consultant, or a supervisor or admin, may end a session."""
    if role in SESSION_OVERSEER_ROLES:
        return True
    return role == CONSULTANT and assigned_consultant is not None and assigned_consultant == username


def public_session_view(view: SessionView, *, agent_grace_seconds: float) -> dict[str, Any]:
    """What the customer sees, as JSON: the contract's fields, and the truth about the agent (issue #13): not
    started, connected or away, since when, when the session ends as `agent_lost` if it stays away, and the
    seconds it was away while the session ran (not billed)."""
    away = view.agent_away_since is not None and view.status != "ended"
    public = view.model_dump(mode="json", include={*PUBLIC_SESSION_FIELDS, "agent", "agent_away_since",
                                                   "paused_seconds"})
    if not away:
        public["agent_away_since"] = None
    grace_ends = view.agent_away_since + timedelta(seconds=agent_grace_seconds) if away else None
    public["agent_grace_ends_at"] = rfc3339_or_none(grace_ends)
    return public


def remaining_lease_wait(*, requested_seconds_ago: float, lease_seconds: float) -> float:
    """How much longer to wait until every relay has lapsed, given a cut requested that long ago."""
    return max(0.0, lease_seconds - max(0.0, requested_seconds_ago))


@dataclass(frozen=True)
class KeptEnding:
    """An ending answered while consent could not be reached: its event is in the outbox."""

    ending: Ending
    requested_at: datetime


class KeptEndings:
    """The endings one gateway process answered while NATS was away, by session: the first ending of a session
    wins (a later terminate repeats it), until consent has been told. Bounded: the oldest are forgotten first."""

    def __init__(self, memory: int = 10_000) -> None:
        self._memory = memory
        self._kept: OrderedDict[str, KeptEnding] = OrderedDict()

    def get(self, session_id: str) -> KeptEnding | None:
        return self._kept.get(session_id)

    def remember(self, session_id: str, kept: KeptEnding) -> None:
        self._kept[session_id] = kept
        while len(self._kept) > self._memory:
            self._kept.popitem(last=False)

    def forget(self, session_id: str) -> None:
        """Consent has the ending: nothing to repeat any more."""
        self._kept.pop(session_id, None)


# What the live lists and the API's lists show of a session (issue #12, need-to-know): who asks (name, company),
# for what and since when. Never how to reach the customer (email, phone), what the problem is (description), the
# consent id or a token: the full record is for the assigned consultant, and for overseers on the record.
# The consultants' live queue adds the contact (`queue_card`, issue #14).
SESSION_CARD_FIELDS = (
    "session_id",
    "status",
    "service_type",
    "consultant",
    "requested_at",
    "assigned_at",
    "started_at",
    "ended_at",
    "expires_at",
    "chat_seq",  # how many chat messages (a waiting customer's: the queue shows they wrote)
)
CARD_CUSTOMER_FIELDS = ("name", "company")


# The consultants' live queue (the console) also says how to reach the customer (issue #14): a consultant calls
# or writes back before claiming, and a waiting customer who left the page can still be helped. Still never
# the description, the consent id or a token; the supervisor's list and the API's `/queue` stay cards.
QUEUE_CUSTOMER_FIELDS = (*CARD_CUSTOMER_FIELDS, "email", "phone")


def session_card(
    view: SessionView, *, customer_fields: tuple[str, ...] = CARD_CUSTOMER_FIELDS
) -> dict[str, Any]:
    """A session in a list, as JSON."""
    card = view.model_dump(mode="json", include=set(SESSION_CARD_FIELDS))
    card["customer"] = {key: view.customer.get(key) for key in customer_fields}
    return card


def queue_card(view: SessionView) -> dict[str, Any]:
    """A waiting request as the consultants' console shows it: the card and the customer's contact."""
    return session_card(view, customer_fields=QUEUE_CUSTOMER_FIELDS)


def may_post_chat(*, username: str, role: str, assigned_consultant: str | None) -> bool:
    """Staff who may write in a session's chat: its assigned consultant only (supervisors read it, and a watching
    supervisor stays silent: the customer talks to one consultant)."""
    return role == CONSULTANT and assigned_consultant is not None and assigned_consultant == username


def may_read_session(*, username: str, role: str, assigned_consultant: str | None) -> bool:
    """The full record (personal data, billing report) of a session: its assigned consultant, supervisors and
    admins; a consultant never reads a colleague's session, ongoing or ended, nor one nobody has claimed."""
    return may_end_session(username=username, role=role, assigned_consultant=assigned_consultant)


def read_is_audited(*, username: str, role: str, assigned_consultant: str | None) -> bool:
    """An overseer reading a session that is not their own leaves a record in the audit trail."""
    return role in SESSION_OVERSEER_ROLES and assigned_consultant != username


# --- the close reason of a 4410 (relay/closecodes.py): written by the relay, read back by the recording (#19) -------
_ENDED_BY_REASON = {
    "customer_terminated": "customer",
    "consultant_ended": "consultant",
    "supervisor_ended": "supervisor",
}
_REASON_OF_ENDER = {who: reason for reason, who in _ENDED_BY_REASON.items()}
_CLOSE_REASON = re.compile(r"session ended by (?:(customer|consultant|supervisor)|system(?: \(([a-z_]{1,40})\))?)")


def ended_reason(reason: str | None, ended_by: str | None = None) -> str:
    """The close reason of a 4410: who ended the session, in words a person and a program can read."""
    who = ended_by or _ENDED_BY_REASON.get(reason or "", "system")
    text = f"session ended by {who}"
    if reason and who == "system":
        text += f" ({reason})"
    return text


def ending_in_close_reason(text: str) -> tuple[str, str | None] | None:
    """(ended_by, end_reason) read back from an `ended_reason` text; None for any other close reason. The end
    reason is None when the text does not say it (the system, for want of a reason)."""
    match = _CLOSE_REASON.fullmatch(text or "")
    if match is None:
        return None
    person, reason = match.group(1), match.group(2)
    return (person, _REASON_OF_ENDER[person]) if person else ("system", reason)
