"""How a session can end, once for every service: the reasons a consent is revoked for, and who each names.

The gateway asks for a revocation with a reason; the consent service records it and says who ended the session
(`ended_by` in its reply and in `consent.revoked`); the session service ends the session with that. Standard
library only, so each service's pure `domain` may use it.
"""

from __future__ import annotations

from dataclasses import dataclass

CUSTOMER_TERMINATED = "customer_terminated"
CONSULTANT_ENDED = "consultant_ended"
SUPERVISOR_ENDED = "supervisor_ended"
EXPIRED = "expired"
AGENT_LOST = "agent_lost"
ADMIN = "admin"

CUSTOMER, CONSULTANT, SUPERVISOR, SYSTEM = "customer", "consultant", "supervisor", "system"


@dataclass(frozen=True)
class Ending:
    """Who ends a session, and the reason recorded for the consent revocation and the session end."""

    ended_by: str
    reason: str


CUSTOMER_ENDING = Ending(ended_by=CUSTOMER, reason=CUSTOMER_TERMINATED)
CONSULTANT_ENDING = Ending(ended_by=CONSULTANT, reason=CONSULTANT_ENDED)
SUPERVISOR_ENDING = Ending(ended_by=SUPERVISOR, reason=SUPERVISOR_ENDED)
AGENT_LOST_ENDING = Ending(ended_by=SYSTEM, reason=AGENT_LOST)
EXPIRED_ENDING = Ending(ended_by=SYSTEM, reason=EXPIRED)
ADMIN_ENDING = Ending(ended_by=SYSTEM, reason=ADMIN)

ENDINGS: dict[str, Ending] = {
    ending.reason: ending
    for ending in (CUSTOMER_ENDING, CONSULTANT_ENDING, SUPERVISOR_ENDING, EXPIRED_ENDING, AGENT_LOST_ENDING,
                   ADMIN_ENDING)
}
# The reasons a consent may be revoked for (CONTRACT §4, `consent.revoked`).
REASONS = tuple(ENDINGS)


def ending_of(reason: str) -> Ending:
    """The ending a revocation reason stands for; a reason nobody names here ends it as the system."""
    return ENDINGS.get(reason, Ending(ended_by=SYSTEM, reason=reason))


def ended_by_of(reason: str) -> str:
    return ending_of(reason).ended_by
