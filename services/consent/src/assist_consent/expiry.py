"""The background task that revokes consents past their maximum duration and forgets long-ended leases."""

from __future__ import annotations

import logging

from assist_platform.db import finish_even_if_cancelled
from assist_platform.retrying import every
from assist_platform.runtime import ServiceRuntime

from .service import ConsentService

log = logging.getLogger(__name__)


async def expire_consents(runtime: ServiceRuntime) -> None:
    """Background task: one round every `CONSENT_EXPIRY_CHECK_SECONDS`, surviving any failure."""
    service = ConsentService.for_runtime(runtime)
    await every(runtime.settings.consent_expiry_check_seconds,
                lambda: finish_even_if_cancelled(_expiry_round(service)), what="consent expiry round")


async def _expiry_round(service: ConsentService) -> None:
    # Failures are caught here, inside the shielded work, so that a cancellation at shutdown is passed on as one.
    try:
        await service.expire_due()
        await service.forget_stale_leases()
    except Exception:  # the database may be away for a moment; the next round tries again
        log.exception("consent expiry round failed")
