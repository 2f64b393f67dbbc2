"""The gateway's events, and where their consumers live.

It publishes `gateway.terminate_requested` (stream GATEWAY, docs/events.md): a terminate or end answered while the
consent service could not be reached, kept in the gateway's outbox until NATS is back; the consent service
consumes it and revokes. And `gateway.observer_joined` / `gateway.observer_left` as a supervisor starts and stops
watching a session; the session service keeps who watches, which the customer's page shows. The relay (`relay/`) cuts on the consent service's cut requests and follows
`session.*` for the live UI.
"""

from __future__ import annotations

from datetime import datetime

from assist_contract.gateway import OBSERVER_JOINED, OBSERVER_LEFT, TERMINATE_REQUESTED
from assist_platform.envelope import CloudEvent, rfc3339

SOURCE = "assist/gateway"


def terminate_requested(*, session_id: str, ended_by: str, reason: str, requested_at: datetime) -> CloudEvent:
    return TERMINATE_REQUESTED.new(
        source=SOURCE,
        subject=session_id,
        data={"session_id": session_id, "ended_by": ended_by, "reason": reason,
              "requested_at": rfc3339(requested_at)},
    )


def observer_joined(*, session_id: str, observation_id: str, observer: str, at: datetime) -> CloudEvent:
    return OBSERVER_JOINED.new(source=SOURCE, subject=session_id, data={
        "session_id": session_id, "observation_id": observation_id, "observer": observer, "joined_at": rfc3339(at)})


def observer_left(*, session_id: str, observation_id: str, observer: str, at: datetime) -> CloudEvent:
    return OBSERVER_LEFT.new(source=SOURCE, subject=session_id, data={
        "session_id": session_id, "observation_id": observation_id, "observer": observer, "left_at": rfc3339(at)})
