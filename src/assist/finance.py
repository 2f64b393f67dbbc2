"""`assist finance tail`: the BILLING events as JSON lines, for a finance system to read (docs/finance.md).

A durable JetStream consumer remembers how far it got, so a restarted tail continues where it stopped. Each event
is written and flushed before it is acknowledged: after a crash an event may be written twice, never lost, and the
reader dedupes by the CloudEvent `id`.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import TextIO

from nats.errors import TimeoutError as NatsTimeoutError
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

STREAM = "BILLING"


def tail(
    *, nats_url: str, since: datetime | None, out: TextIO, durable: str = "finance-tail", stop_after: int | None = None
) -> int:
    """Write BILLING events to `out` until interrupted (or `stop_after` events); returns how many were written."""
    return asyncio.run(
        tail_events(nats_url=nats_url, since=since, out=out, durable=durable, stop_after=stop_after)
    )


async def tail_events(
    *, nats_url: str, since: datetime | None, out: TextIO, durable: str = "finance-tail", stop_after: int | None = None
) -> int:
    from assist_contract.streams import STREAMS
    from assist_platform.messaging import connect_nats, ensure_streams

    nc = await connect_nats(nats_url, name=f"assist-finance-{durable}")
    try:
        js = nc.jetstream()
        await ensure_streams(js, STREAMS)
        pull = await _bind(js, durable=durable, since=since)
        return await _copy(pull, out=out, stop_after=stop_after)
    finally:
        await nc.drain()


async def _bind(js, *, durable: str, since: datetime | None):
    """Create the durable on first use; `since` applies only then (an existing durable keeps its position)."""
    try:
        await js.consumer_info(STREAM, durable)
    except NotFoundError:
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.BY_START_TIME if since else DeliverPolicy.ALL,
            opt_start_time=_start_time(since) if since else None,
            ack_wait=30,
            max_deliver=-1,
        )
        await js.add_consumer(STREAM, config)
    return await js.pull_subscribe_bind(durable=durable, stream=STREAM)


def _start_time(since: datetime) -> str:
    moment = since if since.tzinfo else since.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


async def _copy(pull, *, out: TextIO, stop_after: int | None) -> int:
    written = 0
    while stop_after is None or written < stop_after:
        want = 100 if stop_after is None else min(100, stop_after - written)
        try:
            msgs = await pull.fetch(batch=want, timeout=1.0)
        except (NatsTimeoutError, TimeoutError):
            continue
        for msg in msgs:
            out.write(_line(msg.data) + "\n")
            out.flush()
            await msg.ack_sync()  # acknowledged only once the line is out
            written += 1
    return written


def _line(raw: bytes) -> str:
    """The CloudEvent as one compact JSON line (a non-JSON message is passed through as a JSON string)."""
    try:
        return json.dumps(json.loads(raw), ensure_ascii=False, separators=(",", ":"))
    except ValueError:
        return json.dumps(raw.decode("utf-8", errors="replace"), ensure_ascii=False)
