"""What every service exposes to operators, applied in one place: HTTP tracing and Prometheus `/metrics`.

Why prometheus-client rather than the OpenTelemetry Prometheus exporter: operators scrape Prometheus directly, the
client's text format and metric types (histograms with chosen buckets, labelled gauges) are exactly what the alerts
in docs/operations.md use, and gauges that are read from the database or JetStream are refreshed right before a
scrape by async hooks, which the OTel SDK's synchronous observable callbacks cannot await. Traces stay on the
OpenTelemetry SDK (`telemetry.py`).

Label values are bounded sets (service types, states, subjects, consumer names): never a session id.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from datetime import UTC
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.responses import Response
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from sqlalchemy import func
from sqlmodel import select

from .outbox import OutboxEvent
from .problems import Problem

if TYPE_CHECKING:
    from .runtime import ServiceRuntime

log = logging.getLogger(__name__)

# Relay sockets (`/ws/`) live as long as a session: a span open for hours would hold its attributes in memory per
# socket and tell nothing; what a relay does (leases, commands, the cut) is traced on its own.
NOT_TRACED = "/healthz,/readyz,/metrics,/ws/"
REFRESH_TIMEOUT_SECONDS = 2.0

OUTBOX_BACKLOG = Gauge("assist_outbox_backlog", "Outbox events committed but not yet published to JetStream")
OUTBOX_OLDEST_AGE = Gauge(
    "assist_outbox_oldest_age_seconds", "Age of the oldest unpublished outbox event (0 when the outbox is empty)"
)
CONSUMER_PENDING = Gauge(
    "assist_consumer_pending_messages", "Messages in the stream not yet delivered to the durable consumer",
    ["consumer"],
)
CONSUMER_ACK_PENDING = Gauge(
    "assist_consumer_ack_pending_messages", "Messages delivered to the durable consumer and not yet acknowledged",
    ["consumer"],
)
# The commands' own histogram, `assist_command_duration_seconds`, is defined beside them (commands.py): this module
# needs the runtime, which serves the commands.

MetricsRefresher = Callable[["ServiceRuntime"], Awaitable[None]]


def instrument_app(
    app: FastAPI, runtime_getter: Callable[[], ServiceRuntime | None], *, public: bool = True, token: str | None = None,
) -> None:
    """Trace every HTTP request (not the relay's WebSockets), and serve `/metrics`: to anyone when `public`, else
    to a scraper that sends `token` as a bearer token, else not at all (what a public process has by default)."""
    FastAPIInstrumentor.instrument_app(app, excluded_urls=NOT_TRACED, exclude_spans=["receive", "send"])
    if not public and not token:
        return
    expected = f"Bearer {token}".encode() if token else None

    @app.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        offered = request.headers.get("authorization", "").encode()
        if expected is not None and not hmac.compare_digest(offered, expected):
            raise Problem(401, "Not authenticated", "Send the metrics token as `Authorization: Bearer <token>`.")
        runtime = runtime_getter()
        if runtime is not None:
            await refresh_metrics(runtime)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


async def refresh_metrics(runtime: ServiceRuntime) -> None:
    """Read what gauges show from the database and JetStream now; a part that cannot answer keeps its last value."""
    refreshers: list[MetricsRefresher] = [_refresh_outbox, _refresh_consumers, *runtime.metric_refreshers]
    results = await asyncio.gather(
        *(asyncio.wait_for(refresh(runtime), REFRESH_TIMEOUT_SECONDS) for refresh in refreshers),
        return_exceptions=True,
    )
    for refresh, result in zip(refreshers, results):
        if isinstance(result, BaseException):
            log.warning("metrics: %s failed: %s", getattr(refresh, "__name__", refresh), type(result).__name__)


async def _refresh_outbox(runtime: ServiceRuntime) -> None:
    async with runtime.database.session() as db:
        count, oldest = (
            await db.exec(select(func.count(), func.min(OutboxEvent.created_at)).where(OutboxEvent.sent_at.is_(None)))
        ).one()
        await db.rollback()
    OUTBOX_BACKLOG.set(count or 0)
    if oldest is not None and oldest.tzinfo is None:  # SQLite gives back naive UTC times
        oldest = oldest.replace(tzinfo=UTC)
    OUTBOX_OLDEST_AGE.set(max(0.0, time.time() - oldest.timestamp()) if oldest is not None else 0.0)


async def _refresh_consumers(runtime: ServiceRuntime) -> None:
    for consumer in runtime.consumers:
        info = await consumer.info()
        if info is None:
            continue
        CONSUMER_PENDING.labels(consumer=consumer.durable).set(info.num_pending or 0)
        CONSUMER_ACK_PENDING.labels(consumer=consumer.durable).set(info.num_ack_pending or 0)
