"""The consent service process: its runtime (commands, consumers, outbox, expiry task) and an HTTP app for health."""

from __future__ import annotations

import logging

from assist_platform.app import service_app
from assist_platform.db import Database, finish_even_if_cancelled
from assist_platform.migrations import service_metadata, upgrade
from assist_platform.retrying import every
from assist_platform.runtime import ServiceRuntime
from fastapi import FastAPI

from .commands import consent_commands
from .consumers import EndingConsumer
from .models import TABLES
from .service import ConsentService
from .settings import Settings, get_settings

SERVICE = "consent"
log = logging.getLogger(__name__)


def migrate(settings: Settings) -> None:
    url, schema = settings.database_location(SERVICE)
    upgrade(url=url, schema=schema, package="assist_consent", metadata=service_metadata(TABLES))


async def expire_consents(runtime: ServiceRuntime) -> None:
    """Background task: revoke consents past their maximum duration, and forget long-ended leases."""
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


def build_runtime(settings: Settings) -> ServiceRuntime:
    url, schema = settings.database_location(SERVICE)
    runtime = ServiceRuntime(name=SERVICE, settings=settings, database=Database(url=url, schema=schema))
    service = ConsentService.for_runtime(runtime)
    runtime.commands.extend(consent_commands(service))
    runtime.subscriptions.extend(EndingConsumer(service).subscriptions())
    runtime.background.append(expire_consents)
    return runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    return service_app(name=SERVICE, runtime=build_runtime(settings or get_settings()))
