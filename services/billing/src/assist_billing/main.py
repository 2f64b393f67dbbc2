"""The billing service process: its runtime (commands, SESSION consumer, outbox) and its small HTTP face (health)."""

from __future__ import annotations

from assist_platform.app import service_app
from assist_platform.db import Database
from assist_platform.migrations import service_metadata, upgrade
from assist_platform.retrying import on_conflict
from assist_platform.runtime import ServiceRuntime
from fastapi import FastAPI

from . import price_lists
from .commands import BillingCommands
from .consumers import session_subscription
from .models import TABLES
from .settings import Settings, get_settings

SERVICE = "billing"


def migrate(settings: Settings) -> None:
    """Bring the service's database to the newest revision (idempotent)."""
    url, schema = settings.database_location(SERVICE)
    upgrade(url=url, schema=schema, package="assist_billing", metadata=service_metadata(TABLES))


async def store_bundled_price_lists(database: Database) -> None:
    """The reviewed price list files of this release, stored before any session is priced."""
    bundled = price_lists.bundled_price_lists()
    async for attempt in on_conflict(attempts=3):  # another replica stored them at the same moment
        with attempt:
            async with database.transaction() as db:
                await price_lists.store_bundled(db=db, price_lists=bundled)


def build_runtime(settings: Settings) -> ServiceRuntime:
    url, schema = settings.database_location(SERVICE)
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        database=Database(url=url, schema=schema),
        subscriptions=[session_subscription()],
    )
    runtime.commands.extend(BillingCommands(runtime, settings).commands())
    return runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    """The process's app; `migrate` runs before it (`assist migrate`, the Kubernetes Job)."""
    runtime = build_runtime(settings or get_settings())
    return service_app(
        name=SERVICE, runtime=runtime, before_start=[lambda: store_bundled_price_lists(runtime.database)]
    )
