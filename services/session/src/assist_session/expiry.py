"""The background task that ends requests nobody started.

A request ends in its own transaction, with its `session.ended` (end_reason `expired`); the consent service
consumes that event and revokes the consent, so nothing here waits for it or retries it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from assist_platform.envelope import utcnow
from assist_platform.runtime import ServiceRuntime

from . import service
from .settings import Settings

log = logging.getLogger(__name__)


async def expire_due_requests(runtime: ServiceRuntime, *, now: datetime) -> list[str]:
    async with runtime.database.transaction() as db:
        expired = await service.expire_requests(db=db, now=now)
        await service.release_dead_codes(db=db, now=now)
    if expired:
        log.info("expired %d request(s) nobody started: %s", len(expired), ", ".join(expired))
    return expired


async def run_tick(runtime: ServiceRuntime, settings: Settings) -> None:
    await expire_due_requests(runtime, now=utcnow())


def expiry_task(settings: Settings):
    """The runtime's background task: one tick every `SESSION_EXPIRY_INTERVAL_SECONDS`, surviving any failure."""

    async def expire_requests_forever(runtime: ServiceRuntime) -> None:
        while True:
            try:
                await run_tick(runtime, settings)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("request expiry tick failed; trying again next tick")
            await asyncio.sleep(settings.session_expiry_interval_seconds)

    return expire_requests_forever
