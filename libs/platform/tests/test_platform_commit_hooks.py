"""Commit hooks: `before_commit` writes inside the transaction it belongs to, `after_commit` runs only after it;
neither runs for a transaction that rolls back."""

from __future__ import annotations

import pytest
from assist_platform.db import after_commit, before_commit
from assist_platform.envelope import utcnow
from assist_platform.outbox import ProcessedEvent
from sqlalchemy import insert
from sqlmodel import select


def _stage_processed(event_id: str, calls: list[str]):
    def write(session) -> None:
        calls.append(f"before {event_id}")
        session.connection().execute(insert(ProcessedEvent.__table__),
                                     [{"consumer": "hooks", "event_id": event_id, "processed_at": utcnow()}])

    return write


async def _stored(database) -> list[str]:
    async with database.session() as db:
        return list((await db.exec(select(ProcessedEvent.event_id).where(ProcessedEvent.consumer == "hooks"))).all())


async def test_before_commit_writes_in_the_transaction_and_after_commit_runs_once_it_committed(platform_database):
    calls: list[str] = []
    async with platform_database.transaction() as db:
        before_commit(db, _stage_processed("kept", calls))
        after_commit(db, lambda: calls.append("after"))
        assert calls == []  # nothing runs before the commit
    assert calls == ["before kept", "after"]
    assert await _stored(platform_database) == ["kept"]


async def test_neither_hook_runs_for_a_transaction_that_rolls_back_nor_for_the_next_one(platform_database):
    calls: list[str] = []
    with pytest.raises(RuntimeError):
        async with platform_database.transaction() as db:
            before_commit(db, _stage_processed("dropped", calls))
            after_commit(db, lambda: calls.append("after"))
            raise RuntimeError("the state change failed")
    async with platform_database.transaction() as db:
        pass  # a later transaction does not inherit the hooks of the one that rolled back
    assert calls == []
    assert await _stored(platform_database) == []
