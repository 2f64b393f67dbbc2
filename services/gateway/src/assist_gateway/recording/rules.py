"""The recordings' pure rules (issue #19): when a recording is due for deletion, and the playback ticket a customer's
time-limited link carries. Plain Python, no I/O: the retention sweep (retention.py) and the links (links.py) act on
what these decide.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import datetime, timedelta
from enum import Enum

# --- retention -------------------------------------------------------------------------------------------------
# A recording's row goes `recording` → `closed` → `expired` (the sweep) or `erased` (the customer); the objects exist
# only while it is `recording` or `closed`.
KEPT_STATUSES = ("recording", "closed")
GONE_STATUSES = ("erased", "expired")
RECORDING_STATUSES = (*KEPT_STATUSES, *GONE_STATUSES)
ERASED_BY_CUSTOMER, ERASED_BY_RETENTION = "customer", "retention"
DEFAULT_RETENTION_CLASS = "standard"


def deletion_deadline(*, started_at: datetime, delete_after: datetime | None, retention: timedelta) -> datetime:
    """When a recording is to be deleted: `delete_after` once it is closed (its end plus the retention); until then
    its start plus the retention, so that a recording that never closed (a replica that died with it) is still
    deleted in time."""
    return delete_after if delete_after is not None else started_at + retention


def is_due(*, status: str, started_at: datetime, delete_after: datetime | None, retention: timedelta,
           now: datetime) -> bool:
    """Whether the sweep deletes this recording now: kept, and its deadline reached."""
    return status in KEPT_STATUSES and deletion_deadline(
        started_at=started_at, delete_after=delete_after, retention=retention) <= now


def retention_of(retention_class: str, days_by_class: dict[str, float]) -> timedelta:
    """The retention of a class; a class no longer configured keeps the default class's (never forever)."""
    days = days_by_class.get(retention_class, days_by_class.get(DEFAULT_RETENTION_CLASS))
    if days is None:
        raise ValueError(f"no retention configured for {retention_class!r} nor {DEFAULT_RETENTION_CLASS!r}")
    return timedelta(days=days)


# --- playback tickets ----------------------------------------------------------------------------------------------
# A ticket is `<expires>.<mac>`: the expiry in unix seconds and HMAC-SHA256(secret, purpose, session id, expiry) in
# base64url without padding. The session id is signed but not carried: the ticket is only ever checked against the
# session of the URL it came with, so a ticket of one session opens no other. It grants reading that session's
# recording until it expires, and nothing else (never erasure, never another link).
TICKET_PURPOSE = b"assist/recording-playback/v1"
MAX_TICKET_LENGTH = 80
_TICKET = re.compile(r"([0-9]{1,12})\.([A-Za-z0-9_-]{43})")  # whole ticket: fullmatch


class TicketVerdict(Enum):
    VALID = "valid"
    INVALID = "invalid"  # malformed, forged, or of another session
    EXPIRED = "expired"  # genuine, but past its expiry


def _mac(secret: bytes, session_id: str, expires: int) -> str:
    message = b"\n".join((TICKET_PURPOSE, session_id.encode(), str(expires).encode()))
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def sign_ticket(*, secret: bytes, session_id: str, expires: int) -> str:
    if not secret:
        raise ValueError("a ticket needs a secret")
    if expires < 0:
        raise ValueError("a ticket's expiry is a unix time")
    return f"{expires}.{_mac(secret, session_id, expires)}"


def check_ticket(*, secret: bytes, ticket: str, session_id: str, now: float) -> TicketVerdict:
    """VALID for a ticket signed with `secret` for `session_id` whose expiry is after `now`. A forged or foreign
    ticket is INVALID before its expiry is looked at: a stranger learns nothing from the answer."""
    if not secret or len(ticket) > MAX_TICKET_LENGTH:
        return TicketVerdict.INVALID
    matched = _TICKET.fullmatch(ticket)
    if matched is None:
        return TicketVerdict.INVALID
    expires = int(matched.group(1))
    if not hmac.compare_digest(matched.group(2), _mac(secret, session_id, expires)):
        return TicketVerdict.INVALID
    return TicketVerdict.VALID if now < expires else TicketVerdict.EXPIRED


def ticket_expiry(ticket: str) -> int | None:
    """When a well-formed ticket expires (unix seconds), without checking it: for saying so to its holder."""
    matched = _TICKET.fullmatch(ticket) if len(ticket) <= MAX_TICKET_LENGTH else None
    return int(matched.group(1)) if matched else None
