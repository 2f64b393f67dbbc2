"""The session service process: its runtime (commands, consumer, expiry task) and its small HTTP face (health)."""

from __future__ import annotations

from assist_platform.app import service_app
from assist_platform.db import Database
from assist_platform.migrations import service_metadata, upgrade
from assist_platform.runtime import ServiceRuntime
from fastapi import FastAPI

from .commands import SessionCommands
from .consumers import consent_subscription
from .expiry import expiry_task
from .metrics import refresh_sessions_by_state
from .models import TABLES
from .settings import Settings, get_settings

SERVICE = "session"


def migrate(settings: Settings) -> None:
    """Bring the service's database to the newest revision (idempotent)."""
    url, schema = settings.database_location(SERVICE)
    upgrade(url=url, schema=schema, package="assist_session", metadata=service_metadata(TABLES))


def build_runtime(settings: Settings) -> ServiceRuntime:
    url, schema = settings.database_location(SERVICE)
    runtime = ServiceRuntime(
        name=SERVICE,
        settings=settings,
        database=Database(url=url, schema=schema),
        subscriptions=[consent_subscription()],
        background=[expiry_task(settings)],
    )
    runtime.commands.extend(SessionCommands(runtime, settings).commands())
    runtime.metric_refreshers.append(refresh_sessions_by_state)
    return runtime


def create_app(settings: Settings | None = None) -> FastAPI:
    """The process's app; `migrate` runs before it (the CLI migrates every service first)."""
    return service_app(name=SERVICE, runtime=build_runtime(settings or get_settings()))
