"""The life of a service process: connect, serve commands, consume events, publish the outbox, shut down cleanly."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from nats.aio.client import Client as NATS
from pydantic import BaseModel

from .commands import serve_command
from .db import Database
from .messaging import IdempotentConsumer, Subscription, connect_nats, ensure_streams
from .outbox import OutboxPublisher
from .settings import PlatformSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    subject: str
    input_model: type
    handler: Callable[[Any], Awaitable[Any]]
    # Answer requests in parallel (for handlers that wait on something else, see `serve_command`).
    concurrent: bool = False


BackgroundTask = Callable[["ServiceRuntime"], Awaitable[None]]


@dataclass
class ServiceRuntime:
    name: str
    settings: PlatformSettings
    database: Database
    # The streams it creates once connected (`name → subjects`, the contract's), before the outbox publishes.
    streams: Mapping[str, Sequence[str]] = field(default_factory=dict)
    subscriptions: list[Subscription] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    background: list[BackgroundTask] = field(default_factory=list)
    # Called once connected, before `ready`: for subscriptions that are not commands (the gateway's cut handler).
    on_connected: list[Callable[["ServiceRuntime"], Awaitable[None]]] = field(default_factory=list)
    # Called right before a `/metrics` scrape to set the service's own gauges (observability.instrument_app).
    metric_refreshers: list[Callable[["ServiceRuntime"], Awaitable[None]]] = field(default_factory=list)

    nc: NATS | None = None
    js: Any = None
    outbox: OutboxPublisher | None = None
    consumers: list[IdempotentConsumer] = field(default_factory=list)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task] = field(default_factory=list)
    _command_subs: list[Any] = field(default_factory=list)

    async def start(self) -> None:
        """Return at once; connecting happens in the background so /healthz answers while NATS is still away."""
        self._tasks.append(asyncio.create_task(self._connect_and_run(), name=f"{self.name}-start"))

    async def _connect_and_run(self) -> None:
        self.nc = await connect_nats(
            self.settings.nats_url, name=self.name, user=self.settings.nats_user, password=self.settings.nats_password
        )
        self.js = self.nc.jetstream()
        while True:
            try:
                await ensure_streams(self.js, self.streams, replicas=self.settings.stream_replicas)
                break
            except Exception as exc:
                log.warning("could not ensure streams yet: %s", exc)
                await asyncio.sleep(0.5)
        self.outbox = OutboxPublisher(database=self.database, js=self.js)
        self._spawn(self.outbox.run(), "outbox")
        for command in self.commands:
            self._command_subs.append(
                await serve_command(
                    self.nc, subject=command.subject, input_model=command.input_model, handler=command.handler,
                    queue=self.name, concurrent=command.concurrent,
                )
            )
        for hook in self.on_connected:
            await hook(self)
        for subscription in self.subscriptions:
            consumer = IdempotentConsumer(
                js=self.js, database=self.database, subscription=subscription
            )
            self.consumers.append(consumer)
            self._spawn(consumer.run(), f"consume-{subscription.durable}")
        for consumer in self.consumers:
            await consumer.ready.wait()
        for task in self.background:
            self._spawn(task(self), getattr(task, "__name__", "background"))
        await self.nc.flush()
        self.ready.set()
        log.info("%s ready", self.name)

    def _spawn(self, coroutine, name: str) -> None:
        task = asyncio.create_task(coroutine, name=f"{self.name}-{name}")
        task.add_done_callback(_log_crash)
        self._tasks.append(task)

    def readiness(self) -> dict[str, bool]:
        return {
            "nats": bool(self.nc is not None and self.nc.is_connected),
            "subscriptions": self.ready.is_set(),
        }

    async def stop(self) -> None:
        for consumer in self.consumers:
            consumer.stop()
        if self.outbox is not None:
            self.outbox.stop()
        await _cancel_all(self._tasks)
        for consumer in self.consumers:
            await consumer.close()
        if self.nc is not None and self.nc.is_connected:
            if self.outbox is not None:
                try:
                    await asyncio.wait_for(self.outbox.publish_pending(), timeout=2.0)
                except Exception as exc:  # what is left goes out at the next start
                    log.warning("outbox not flushed at shutdown: %s", exc)
            try:
                await asyncio.wait_for(self.nc.drain(), timeout=5.0)
            except Exception:
                pass
        elif self.nc is not None:
            await self.nc.close()
        await self.database.close()


async def _cancel_all(tasks: list[asyncio.Task], *, patience: float = 5.0) -> None:
    """Cancel the tasks and wait until they are done, cancelling again those still running: Python 3.11's
    asyncio.wait_for can lose a cancel that arrives as its awaited future completes (bpo-42130)."""
    pending = {task for task in tasks if not task.done()}
    deadline = time.monotonic() + patience
    while pending and time.monotonic() < deadline:
        for task in pending:
            task.cancel()
        _, pending = await asyncio.wait(pending, timeout=0.1)
    for task in pending:
        log.warning("background task %s did not stop when cancelled", task.get_name())


def _log_crash(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("background task %s crashed", task.get_name(), exc_info=task.exception())


class Health(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool]


def health_router(runtime_getter: Callable[[], ServiceRuntime | None]) -> APIRouter:
    """`/healthz`: the process answers. `/readyz`: database, NATS and subscriptions are all there."""
    router = APIRouter(tags=["health"])

    @router.get("/healthz", response_model=Health)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", responses={
        200: {"description": "Ready: database, NATS and subscriptions are all there."},
        503: {"description": "Not ready: `checks` says what is missing.", "model": Readiness},
    }, response_model=Readiness)
    async def readyz() -> JSONResponse:
        runtime = runtime_getter()
        checks = {"database": False, "nats": False, "subscriptions": False}
        if runtime is not None:
            checks.update(runtime.readiness())
            checks["database"] = await runtime.database.ping()
        ready = all(checks.values())
        return JSONResponse({"status": "ready" if ready else "not ready", "checks": checks}, status_code=200 if ready else 503)

    return router
