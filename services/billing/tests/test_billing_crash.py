"""Whatever crashes happen, each started session yields exactly one closed record and one `billing.record.closed`.

The billing service runs as a real process (`assist service billing`) and is killed with SIGKILL mid-stream.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from assist_billing.models import BillingRecord
from assist_billing.settings import Settings
from assist_platform.db import Database
from assist_platform.testing import ServiceProcess
from billing_testkit import at, new_session_id
from sqlmodel import select

SESSIONS = 50
REPO = Path(__file__).resolve().parents[3]


@pytest.fixture
def billing_process(nats_url, database_location, tmp_path):
    env = {**os.environ, "NATS_URL": nats_url, **database_location.env(), "LOG_LEVEL": "warning"}
    # `python -m assist service billing` with the test's NATS and database.
    process = ServiceProcess("billing", env=env, log_path=tmp_path / "billing.log", cwd=REPO)
    process.migrate()
    yield process
    process.stop()


@pytest.mark.timeout(240)
async def test_sigkill_mid_stream_loses_and_duplicates_no_bill(billing_process, bus, billing_settings):
    billing_process.start()
    await billing_process.wait_ready_async(timeout=30)
    sessions = [new_session_id() for _ in range(SESSIONS)]
    kills = 0
    for index, session_id in enumerate(sessions):
        await bus.started(session_id, at=at(minutes=index))
        await bus.ended(session_id, started_at=at(minutes=index), ended_at=at(minutes=index + 7, seconds=index))
        if index in (12, 27, 41):
            # Let it get busy with what was published, then kill it in the middle of its work.
            await bus.wait_for_events("billing.record.closed", 1 + kills * 10, timeout=30)
            billing_process.kill()
            kills += 1
            billing_process.start()
    await billing_process.wait_ready_async(timeout=30)
    assert kills == 3

    closed = await bus.wait_for_events("billing.record.closed", SESSIONS, timeout=60)
    # Billing must also stay quiet once it has caught up: one more session, then nothing else may have appeared.
    marker = new_session_id()
    await bus.ended(marker, started_at=at(), ended_at=at(minutes=1))
    await bus.wait_for_closed(marker)
    closed = [event for event in await bus.billing_events("billing.record.closed") if event.subject != marker]
    assert len(closed) == SESSIONS
    assert sorted(event.subject for event in closed) == sorted(sessions)
    assert len({event.data["record_id"] for event in closed}) == SESSIONS
    assert len({event.id for event in closed}) == SESSIONS
    for event in closed:
        index = sessions.index(event.subject)
        assert event.data["billable_seconds"] == 7 * 60 + index

    opened = await bus.billing_events("billing.record.opened")
    assert len({event.data["session_id"] for event in opened}) == len(opened) == SESSIONS + 1

    url, schema = Settings(**billing_settings.model_dump()).database_location("billing")
    database = Database(url=url, schema=schema)
    try:
        async with database.session() as db:
            records = (await db.exec(select(BillingRecord).where(BillingRecord.session_id.in_(sessions)))).all()
    finally:
        await database.close()
    assert len(records) == SESSIONS and all(record.status == "closed" for record in records)
    assert {record.record_id for record in records} == {event.data["record_id"] for event in closed}
