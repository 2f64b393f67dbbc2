"""The skeleton of a service process: one declaration in the service's `main.py` yields its `migrate`, its
runtime and its app.

Inside a service the layers are the same everywhere (docs/architecture.md):
- `commands.py` translates: a command's input model → one call of the service layer → the answer;
- `service.py` (the application layer) owns each unit of work: it opens the transaction (or the read-only
  session), calls the rules (`domain.py`) and the persistence functions, and returns once committed;
- persistence (`crud.py`, and billing's `ledger.py`, `records.py`, `price_lists.py`) works inside the caller's
  transaction (`db`) and never opens or commits one;
- event handlers (`consumers.py`) run inside the transaction the platform's idempotent consumer opens.
Events staged in a transaction (`outbox.add_event`) wake the outbox publisher when it commits: nobody notifies it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from fastapi import FastAPI
from sqlalchemy import Table

from .app import service_app
from .db import Database
from .messaging import Subscription
from .migrations import service_metadata, upgrade
from .runtime import BackgroundTask, Command, ServiceRuntime
from .settings import PlatformSettings

S = TypeVar("S", bound=PlatformSettings)
RuntimeHook = Callable[[ServiceRuntime], Awaitable[None]]


def _nothing(_runtime: ServiceRuntime) -> list:
    return []


@dataclass(frozen=True)
class ServiceDefinition(Generic[S]):
    """What makes one service: its name, its package (whose `migrations` hold its revisions), its tables, its
    settings, and what its runtime serves. `commands` and `subscriptions` are built from the runtime, so they
    can hold its database."""

    name: str
    package: str
    tables: Sequence[Table] = field(repr=False)
    get_settings: Callable[[], S]
    # The streams every service creates at its start (`name → subjects`): the contract's `STREAMS`.
    streams: Mapping[str, Sequence[str]]
    # `runtime → list of Command`: the service's `commands()` (the contract's `command_table`, its audit command
    # among them).
    commands: Callable[[ServiceRuntime], Sequence[Command]] = _nothing
    subscriptions: Callable[[ServiceRuntime], Sequence[Subscription]] = _nothing
    background: Sequence[BackgroundTask] = ()
    metric_refreshers: Sequence[RuntimeHook] = ()
    # Run before the runtime starts, at every start of the app (billing stores its bundled price lists).
    before_start: Sequence[RuntimeHook] = ()

    def migrate(self, settings: S) -> None:
        """Bring the service's database to the newest revision (idempotent)."""
        url, schema = settings.database_location(self.name)
        upgrade(url=url, schema=schema, package=self.package, metadata=service_metadata(tuple(self.tables)))

    def open_database(self, settings: S) -> Database:
        url, schema = settings.database_location(self.name)
        return Database(url=url, schema=schema)

    def build_runtime(self, settings: S) -> ServiceRuntime:
        runtime = ServiceRuntime(
            name=self.name, settings=settings, database=self.open_database(settings), streams=self.streams,
            background=list(self.background), metric_refreshers=list(self.metric_refreshers),
        )
        runtime.commands.extend(self.commands(runtime))
        runtime.subscriptions.extend(self.subscriptions(runtime))
        return runtime

    def create_app(self, settings: S | None = None) -> FastAPI:
        """The process's app; `migrate` runs before it (`assist migrate`, the Kubernetes Job), never here."""
        runtime = self.build_runtime(settings or self.get_settings())
        before_start = [_bound(hook, runtime) for hook in self.before_start]
        return service_app(name=self.name, runtime=runtime, before_start=before_start)


def _bound(hook: RuntimeHook, runtime: ServiceRuntime) -> Callable[[], Awaitable[None]]:
    return lambda: hook(runtime)
