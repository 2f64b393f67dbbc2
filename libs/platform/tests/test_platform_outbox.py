"""The outbox: an event leaves only with its transaction, survives NATS being away, and is published once."""

from __future__ import annotations

import asyncio

import nats
import pytest
from assist_contract.streams import STREAMS
from assist_platform.envelope import new_event
from assist_platform.messaging import ensure_streams
from assist_platform.outbox import OutboxEvent, OutboxPublisher, add_event
from assist_platform.testing import eventually, stored_messages
from sqlalchemy import update
from sqlmodel import select


def session_event(session_id: str):
    return new_event(source="assist/test", type="session.requested", subject=session_id, data={"session_id": session_id})


async def stream_messages(js, stream: str = "SESSION") -> list:
    return await stored_messages(js, stream)


async def wait_until(predicate, timeout: float = 10.0) -> None:
    await eventually(predicate, timeout=timeout, what=getattr(predicate, "__qualname__", "the condition"))


async def test_an_event_is_published_only_if_its_transaction_commits(platform_database, js):
    committed = session_event("committed")
    async with platform_database.transaction() as db:
        add_event(db, committed)
    with pytest.raises(RuntimeError):
        async with platform_database.transaction() as db:
            add_event(db, session_event("rolled-back"))
            raise RuntimeError("the state change failed")
    publisher = OutboxPublisher(database=platform_database, js=js)
    assert await publisher.publish_pending() == 1
    messages = await stream_messages(js)
    assert [m.headers["Nats-Msg-Id"] for m in messages] == [committed.id]
    assert messages[0].subject == "session.requested"
    assert await publisher.backlog() == 0


async def test_events_staged_while_nats_is_down_go_out_once_when_it_returns(platform_database, own_nats_server):
    nc = await nats.connect(own_nats_server.url, max_reconnect_attempts=-1, reconnect_time_wait=0.1)
    js = nc.jetstream()
    await ensure_streams(js, STREAMS)
    publisher = OutboxPublisher(database=platform_database, js=js, idle_poll_seconds=0.1)
    running = asyncio.create_task(publisher.run())
    own_nats_server.stop()
    events = [session_event(f"s{i}") for i in range(5)]
    async with platform_database.transaction() as db:
        for event in events:
            add_event(db, event)
    publisher.notify()
    await wait_until(lambda: _has_error(publisher))
    assert await publisher.backlog() == 5
    own_nats_server.start()
    await wait_until(lambda: _backlog_is(publisher, 0), timeout=20)
    messages = await stream_messages(js)
    assert sorted(m.headers["Nats-Msg-Id"] for m in messages) == sorted(event.id for event in events)
    publisher.stop()
    running.cancel()
    await asyncio.gather(running, return_exceptions=True)
    await nc.close()


async def test_a_row_sent_again_after_a_crash_is_dropped_by_jetstream(platform_database, js):
    event = session_event("resent")
    async with platform_database.transaction() as db:
        add_event(db, event)
    publisher = OutboxPublisher(database=platform_database, js=js)
    await publisher.publish_pending()
    # As if the process died between publishing and marking the row sent.
    async with platform_database.transaction() as db:
        await db.exec(update(OutboxEvent).values(sent_at=None))
    await publisher.publish_pending()
    assert [m.headers["Nats-Msg-Id"] for m in await stream_messages(js)] == [event.id]
    async with platform_database.session() as db:
        assert (await db.exec(select(OutboxEvent.sent_at))).all()[0] is not None


async def _has_error(publisher: OutboxPublisher) -> bool:
    return publisher.last_error is not None


async def _backlog_is(publisher: OutboxPublisher, count: int) -> bool:
    return await publisher.backlog() == count


async def test_a_committed_event_wakes_the_publisher_without_anyone_notifying_it(platform_database, js):
    # An idle poll far beyond the wait below: only the commit's own wake can publish the event in time.
    publisher = OutboxPublisher(database=platform_database, js=js, idle_poll_seconds=3600)
    first = session_event("first")
    async with platform_database.transaction() as db:
        add_event(db, first)
    running = asyncio.create_task(publisher.run())
    # The first round sends what was there before; after it the publisher waits for a wake (or an hour).
    await wait_until(lambda: _backlog_is(publisher, 0))
    event = session_event("woken")
    async with platform_database.transaction() as db:
        add_event(db, event)
    await wait_until(lambda: _stream_holds(js, [first.id, event.id]), timeout=10)
    # The publisher marks the row sent after the stream has acknowledged it: a moment later, not at once.
    await wait_until(lambda: _backlog_is(publisher, 0), timeout=10)
    publisher.stop()
    await asyncio.gather(running, return_exceptions=True)
    assert platform_database.on_events_committed == []


async def test_a_rolled_back_event_wakes_nobody(platform_database):
    woken: list[str] = []
    platform_database.on_events_committed.append(lambda: woken.append("woken"))
    with pytest.raises(RuntimeError):
        async with platform_database.transaction() as db:
            add_event(db, session_event("rolled-back"))
            raise RuntimeError("the state change failed")
    async with platform_database.transaction() as db:
        pass
    assert woken == []
    async with platform_database.transaction() as db:
        add_event(db, session_event("committed"))
    assert woken == ["woken"]


async def _stream_holds(js, ids: list[str]) -> bool:
    return [m.headers["Nats-Msg-Id"] for m in await stream_messages(js)] == ids
