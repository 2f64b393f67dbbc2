"""The background task that ends requests nobody started.

A request ends in its own transaction, with its `session.ended` (end_reason `expired`); the consent service
consumes that event and revokes the consent, so nothing here waits for it or retries it.
"""

from __future__ import annotations

import asyncio
import logging

from assist_platform.envelope import utcnow
from assist_platform.runtime import ServiceRuntime

from .service import SessionService

log = logging.getLogger(__name__)


async def expire_requests_forever(runtime: ServiceRuntime) -> None:
    """The runtime's background task: one tick every `SESSION_EXPIRY_INTERVAL_SECONDS`, surviving any failure."""
    service = SessionService.for_runtime(runtime)
    while True:
        try:
            await service.expire_due_requests(now=utcnow())
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("request expiry tick failed; trying again next tick")
        await asyncio.sleep(runtime.settings.session_expiry_interval_seconds)
