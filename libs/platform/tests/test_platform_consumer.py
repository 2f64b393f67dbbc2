"""Idempotent consumption: an event's effect happens once, however often it is delivered, and only after commit."""

from __future__ import annotations

import asyncio

from assist_platform.envelope import CloudEvent, new_event
from assist_platform.messaging import IdempotentConsumer, Subscription
from assist_platform.outbox import OutboxEvent, ProcessedEvent, add_event
from assist_platform.testing import eventually
from sqlmodel import func, select


async def count(database, model) -> int:
    async with database.session() as db:
        return (await db.exec(select(func.count()).select_from(model))).one()


async def wait_for_count(database, model, expected: int, timeout: float = 15.0) -> None:
    async def reached() -> bool:
        return await count(database, model) == expected

    await eventually(reached, timeout=timeout, what=f"{expected} rows of {model.__name__}")


async def test_each_event_takes_effect_once_despite_redelivery_and_a_failed_attempt(platform_database, js):
    attempts: dict[str, int] = {}

    async def bill(db, event: CloudEvent) -> None:
        attempts[event.id] = attempts.get(event.id, 0) + 1
        # The effect: a derived event staged in the consumer's transaction.
        add_event(db, new_event(source="assist/test", type="billing.record.opened", subject=event.subject,
                                data={"from": event.id}))
        if event.data.get("fail_first") and attempts[event.id] == 1:
            raise RuntimeError("a passing failure: the transaction rolls back and the message is redelivered")

    consumer = IdempotentConsumer(
        js=js, database=platform_database,
        subscription=Subscription(stream="SESSION", durable="test-billing", subjects=("session.ended",), handler=bill),
    )
    running = asyncio.create_task(consumer.run())
    plain = new_event(source="assist/test", type="session.ended", subject="s1", data={})
    flaky = new_event(source="assist/test", type="session.ended", subject="s2", data={"fail_first": True})
    for event in (plain, flaky):
        await js.publish(event.type, event.to_bytes(), headers={"Nats-Msg-Id": event.id})
    # The same event again under another message id: past JetStream's duplicate window, only our table stops it.
    await js.publish(plain.type, plain.to_bytes(), headers={"Nats-Msg-Id": plain.id + "-again"})

    await wait_for_count(platform_database, ProcessedEvent, 2)
    await wait_for_count(platform_database, OutboxEvent, 2)
    assert attempts[flaky.id] == 2
    async with asyncio.timeout(10):
        while (await js.consumer_info("SESSION", "test-billing")).num_ack_pending:
            await asyncio.sleep(0.05)
    info = await js.consumer_info("SESSION", "test-billing")
    assert info.num_pending == 0 and info.delivered.stream_seq == 3
    assert await count(platform_database, OutboxEvent) == 2
    consumer.stop()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
