"""Billed sessions for the finance tests, fast: `session.started` and `session.ended` published on the system's
real JetStream SESSION stream, as the session service publishes them; the real billing service prices them.

The finance pages need records of known lengths and customers (103 s, an hour and a minute, ...); a session through
the whole relay would take that long.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import httpx
import nats
from assist_platform.envelope import new_event, rfc3339
from assist_platform.testing import eventually


async def publish_billed_session(
    nats_url: str, *, started_at: datetime, ended_at: datetime, customer: dict, service_type: str = "consultation",
    consultant: str = "maria",
) -> str:
    """Publish one session that was active from `started_at` to `ended_at`; its id."""
    session_id = f"s-{uuid.uuid4().hex[:12]}"
    common = {"session_id": session_id, "service_type": service_type, "customer": customer, "consultant": consultant}
    started = new_event(source="assist/session", type="session.started", subject=session_id,
                        data={**common, "at": rfc3339(started_at)})
    ended = new_event(source="assist/session", type="session.ended", subject=session_id, data={
        **common, "ended_at": rfc3339(ended_at), "ended_by": "consultant", "end_reason": "consultant_ended",
        "started_at": rfc3339(started_at), "agent_away": [], "paused_seconds": 0,
    })
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        for event in (started, ended):
            await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": event.id})
    finally:
        await nc.close()
    return session_id


async def closed_records(client: httpx.AsyncClient, headers: dict, session_ids: list[str],
                         timeout: float = 20.0) -> dict[str, dict]:
    """The closed billing records of `session_ids` (through the API), once billing has closed them all."""
    async def all_closed() -> dict[str, dict] | None:
        page = (await client.get("/api/v1/billing/records", params={"status": "closed", "limit": 500},
                                 headers=headers)).json()
        found = {record["session_id"]: record for record in page["records"] if record["session_id"] in session_ids}
        return found if len(found) == len(session_ids) else None

    return await eventually(all_closed, timeout=timeout, what=f"closed records for {session_ids}")


async def closed_record(client: httpx.AsyncClient, headers: dict, session_id: str, timeout: float = 20.0) -> dict:
    """The closed billing record of `session_id`, once billing has closed it."""
    return (await closed_records(client, headers, [session_id], timeout))[session_id]
