"""The session service's own metrics: how many sessions are in each state (read right before a scrape)."""

from __future__ import annotations

from assist_platform.runtime import ServiceRuntime
from prometheus_client import Gauge
from sqlalchemy import func
from sqlmodel import select

from .domain import Status
from .models import HelpSession

SESSIONS = Gauge("assist_sessions", "Sessions by state (ended ones included: a count since the database began)",
                 ["state"])


async def refresh_sessions_by_state(runtime: ServiceRuntime) -> None:
    async with runtime.database.session() as db:
        rows = (await db.exec(select(HelpSession.status, func.count()).group_by(HelpSession.status))).all()
        await db.rollback()
    counts = {str(status): count for status, count in rows}
    for status in Status:
        SESSIONS.labels(state=status.value).set(counts.get(status.value, 0))
