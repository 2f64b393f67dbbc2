"""The gateway's one event, and where its consumers live.

It publishes `gateway.terminate_requested` (stream GATEWAY, docs/events.md): a terminate or end answered while the
consent service could not be reached, kept in the gateway's outbox until NATS is back; the consent service
consumes it and revokes. The relay (`relay/`) cuts on the consent service's cut requests and follows
`session.*` for the live UI.
"""

from __future__ import annotations

from datetime import datetime

from assist_contract.gateway import TERMINATE_REQUESTED
from assist_platform.envelope import CloudEvent, rfc3339

SOURCE = "assist/gateway"


def terminate_requested(*, session_id: str, ended_by: str, reason: str, requested_at: datetime) -> CloudEvent:
    return TERMINATE_REQUESTED.new(
        source=SOURCE,
        subject=session_id,
        data={"session_id": session_id, "ended_by": ended_by, "reason": reason,
              "requested_at": rfc3339(requested_at)},
    )
