"""`ByType`: a subscription's events to their own handlers, and what can never be applied dropped, not retried."""

from __future__ import annotations

import logging

import pytest
from pydantic import BaseModel

from assist_platform.envelope import new_event
from assist_platform.messaging import ByType


class Unpriced(Exception):
    pass


class Payload(BaseModel):
    session_id: str


def event(type: str, data: dict):
    return new_event(source="assist/test", type=type, subject="s-1", data=data)


async def test_each_type_goes_to_its_handler_and_other_types_are_ignored():
    applied: list[tuple[str, str]] = []

    async def started(_db, ev):
        applied.append(("started", Payload.model_validate(ev.data).session_id))

    async def ended(_db, ev):
        applied.append(("ended", Payload.model_validate(ev.data).session_id))

    handle = ByType({"session.started": started, "session.ended": ended})
    for type in ("session.started", "session.requested", "session.ended"):
        await handle(None, event(type, {"session_id": "s-1"}))
    assert applied == [("started", "s-1"), ("ended", "s-1")]
    assert set(handle.handlers) == {"session.started", "session.ended"}


async def test_a_malformed_or_poison_event_is_dropped_with_a_log_line_and_anything_else_raises(caplog):
    async def strict(_db, ev):
        Payload.model_validate(ev.data)
        if ev.data["session_id"] == "unpriced":
            raise Unpriced("no price list prices it")
        if ev.data["session_id"] == "database":
            raise ConnectionError("the database went away")

    handle = ByType({"session.ended": strict}, poison=(Unpriced,))
    dropped = [event("session.ended", {"no": "session id"}), event("session.ended", {"session_id": "unpriced"})]
    with caplog.at_level(logging.ERROR, logger="assist_platform.messaging"):
        for ev in dropped:
            await handle(None, ev)  # returns: the consumer records it as processed and acknowledges it
    assert [record.message.split(",")[0] for record in caplog.records] == [
        f"dropping session.ended event {ev.id}" for ev in dropped]
    assert "can never be applied: " in caplog.records[1].message and "no price list" in caplog.records[1].message
    # A failure that may pass on a redelivery (the database, the network) is not swallowed: it is retried.
    with pytest.raises(ConnectionError):
        await handle(None, event("session.ended", {"session_id": "database"}))
