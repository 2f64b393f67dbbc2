"""`assist finance tail`: BILLING events as JSON lines, resumed by the durable, from a chosen time."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta

from assist.finance import tail_events
from assist_platform.envelope import new_event, utcnow


async def publish_billing(bus, count: int, *, prefix: str) -> list[str]:
    ids = []
    for index in range(count):
        event = new_event(source="assist/billing", type="billing.record.closed", subject=f"{prefix}{index}",
                          data={"record_id": f"r-{prefix}{index}", "customer": {"name": "Иван"}, "gross": "18.00"})
        await bus.js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": event.id})
        ids.append(event.id)
    return ids


async def test_tail_writes_each_event_once_as_a_json_line_and_resumes_where_it_stopped(bus, nats_url):
    first_ids = await publish_billing(bus, 3, prefix="a")
    out = io.StringIO()
    assert await tail_events(nats_url=nats_url, since=None, out=out, durable="t1", stop_after=2) == 2
    second_ids = await publish_billing(bus, 2, prefix="b")
    assert await tail_events(nats_url=nats_url, since=None, out=out, durable="t1", stop_after=3) == 3
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["id"] for line in lines] == first_ids + second_ids
    assert lines[0]["specversion"] == "1.0" and lines[0]["data"]["customer"]["name"] == "Иван"
    assert "Иван" in out.getvalue()  # UTF-8 text, not \u escapes


async def test_tail_since_skips_older_events(bus, nats_url):
    await publish_billing(bus, 2, prefix="old")
    await asyncio.sleep(0.05)  # the stream's timestamps must differ from `since`; not a wait for a condition
    since = utcnow()
    new_ids = await publish_billing(bus, 2, prefix="new")
    out = io.StringIO()
    await tail_events(nats_url=nats_url, since=since - timedelta(milliseconds=1), out=out, durable="t2", stop_after=2)
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == new_ids
