"""How a session ends for the agent: which close codes are final, what the customer is told, the exit status.

The gateway closes the agent's socket with a code (CONTRACT §3). A final code is the end, however it reaches the
agent (a close frame read, an exception while reading or sending, a refusal right after the upgrade): no reconnect
can change it, so the agent stops, closes every channel, tells the customer who ended the session and exits.
4410's reason says who: "session ended by customer|consultant|supervisor|system (reason)"
(assist_gateway.relay.closecodes.ended_reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .messages import Messages
from .terminal_text import printable

SESSION_ENDED = 4410
REFUSALS = {4401, 4403, 4409, 4429}  # not authenticated, not permitted (a wrong code), taken, throttled
FINAL_CLOSE_CODES = REFUSALS | {SESSION_ENDED}

# Exit statuses of `assist agent` (docs/agent.md)
EXIT_ENDED = 0  # the session ended: by the customer, the consultant, a supervisor or the system
EXIT_REFUSED = 1  # the gateway refused the code or the connection
EXIT_LOST = 3  # the gateway could not be reached, or not again within the grace period

_ENDED_BY = re.compile(r"session ended by (?P<who>\w+)(?: \((?P<reason>.*)\))?\s*$")


@dataclass(frozen=True)
class Ending:
    lines: tuple[str, ...]
    exit_code: int


def who_ended(reason: str | None) -> tuple[str | None, str | None]:
    """("consultant", None) from "session ended by consultant"; (None, None) when the reason says nobody."""
    match = _ENDED_BY.search(reason or "")
    if match is None:
        return None, None
    return match["who"], match["reason"]


def _reason_text(say: Messages, reason: str | None) -> str:
    return say.get(f"reason.{reason}", printable(reason or "?"))


def ended(say: Messages, who: str | None, reason: str | None = None) -> Ending:
    if who in ("customer", "consultant", "supervisor"):
        first = say(f"ended.by.{who}")
    elif who == "system":
        first = say("ended.by.system", reason=_reason_text(say, reason))
    else:
        first = say("ended.by.unknown", reason=_reason_text(say, reason))
    return Ending((first, say("access.closed")), EXIT_ENDED)


def from_close(say: Messages, code: int | None, reason: str | None) -> Ending | None:
    """The ending a close code means, or None when the agent should try again (a drop, 1011, 1013, 4408)."""
    if code == SESSION_ENDED:
        who, why = who_ended(reason)
        return ended(say, who, why if who else reason)
    if code == 4429:
        return Ending((say("refused.throttled"), say("access.closed")), EXIT_REFUSED)
    if code == 4403:
        return Ending((say("refused.code", reason=printable(reason or str(code))), say("access.closed")),
                      EXIT_REFUSED)
    if code in REFUSALS:
        return Ending((say("refused.other", reason=printable(reason or str(code))), say("access.closed")),
                      EXIT_REFUSED)
    return None


def lost(say: Messages, grace_seconds: float) -> Ending:
    return Ending((say("ended.lost", seconds=f"{grace_seconds:g}"), say("access.closed")), EXIT_LOST)


def unreachable(say: Messages, reason: str) -> Ending:
    return Ending((say("ended.unreachable", reason=printable(reason)), say("access.closed")), EXIT_LOST)
