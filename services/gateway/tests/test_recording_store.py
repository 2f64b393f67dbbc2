"""Where recordings are kept (issue #19, recording/store.py): JetStream's object store on a real nats-server, a bucket
per retention class made on first use; and the recording's rows (crud.py) on the test's database."""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest
from assist_gateway import crud
from assist_gateway.models import Recording, RecordingObject
from assist_gateway.recording.store import RecordingObjectMissing, RecordingStore, bucket_for
from assist_gateway.settings import Settings
from assist_gateway.storage import GATEWAY
from assist_platform.testing import migrate_from_template, service_settings
from nats.js.api import StorageType

NAME = "1f0e3c9a-5b7d-4e2f-9a1b-0c2d3e4f5a6b/1764547200123-0a1b2c3d/terminal/000000"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
async def store(nc):
    js = nc.jetstream()
    return RecordingStore(lambda: js, replicas=1)


def test_a_retention_class_has_a_bucket_of_its_own():
    assert bucket_for("standard") == "RECORDINGS_STANDARD"
    assert bucket_for("legal_hold_7y") == "RECORDINGS_LEGAL_HOLD_7Y"


@pytest.mark.parametrize("retention_class", ["", "Standard", "a.b", "a b", "a>", "x" * 33])
def test_a_retention_class_is_a_short_lower_case_word(retention_class):
    with pytest.raises(ValueError):
        bucket_for(retention_class)


async def test_the_bucket_is_made_on_first_use_on_file_storage(store, nc):
    data = os.urandom(300 * 1024)  # more than one of the object store's 128 KiB chunks
    await store.put("RECORDINGS_STANDARD", NAME, data)
    assert await store.get("RECORDINGS_STANDARD", NAME) == data
    info = await nc.jetstream().stream_info("OBJ_RECORDINGS_STANDARD")
    assert info.config.storage == StorageType.FILE and info.config.num_replicas == 1


async def test_an_object_written_again_under_its_name_is_the_new_one(store):
    await store.put("RECORDINGS_STANDARD", NAME, b"first")
    await store.put("RECORDINGS_STANDARD", NAME, b"second")
    assert await store.get("RECORDINGS_STANDARD", NAME) == b"second"


async def test_a_deleted_object_is_missing_and_deleting_it_again_is_no_error(store):
    await store.put("RECORDINGS_STANDARD", NAME, b"x")
    assert await store.delete("RECORDINGS_STANDARD", NAME) is True
    with pytest.raises(RecordingObjectMissing):
        await store.get("RECORDINGS_STANDARD", NAME)
    assert await store.delete("RECORDINGS_STANDARD", NAME) is False


async def test_reading_or_deleting_in_a_bucket_that_is_not_there_makes_no_bucket(store, nc):
    with pytest.raises(RecordingObjectMissing):
        await store.get("RECORDINGS_NEVER", NAME)
    assert await store.delete("RECORDINGS_NEVER", NAME) is False
    assert "OBJ_RECORDINGS_NEVER" not in {info.config.name for info in await nc.jetstream().streams_info()}


async def test_a_bucket_deleted_under_the_store_fails_one_write_and_is_made_again_at_the_next(store, nc):
    await store.put("RECORDINGS_STANDARD", NAME, b"before")
    await nc.jetstream().delete_object_store("RECORDINGS_STANDARD")
    with pytest.raises(Exception):
        await store.put("RECORDINGS_STANDARD", NAME, b"lost")
    await store.put("RECORDINGS_STANDARD", NAME, b"after")
    assert await store.get("RECORDINGS_STANDARD", NAME) == b"after"


# --- the rows -------------------------------------------------------------------------------------------------------

@pytest.fixture
async def database(nats_url, database_location):
    settings = service_settings(Settings, nats_url, database_location)
    migrate_from_template(GATEWAY.migrate, settings, "gateway")
    database = GATEWAY.open_database(settings)
    yield database
    await database.close()


def _object(seq: int, size: int = 10, stream: str = "terminal", part: str = "p1") -> RecordingObject:
    return RecordingObject(session_id="s1", name=f"s1/{part}/{stream}/{seq:06d}", stream=stream, part_id=part,
                           seq=seq, bytes=size, first_at=NOW, last_at=NOW)


async def _open(database, part: str, now: datetime = NOW) -> str | None:
    async with database.transaction() as db:
        return await crud.open_recording(db=db, session_id="s1", retention_class="standard",
                                         bucket="RECORDINGS_STANDARD", part_id=part, now=now)


async def _row(database) -> Recording:
    async with database.session() as db:
        return await crud.recording_of(db=db, session_id="s1")


async def test_a_recording_is_opened_written_and_closed(database):
    assert await _open(database, "p1") == "RECORDINGS_STANDARD"
    async with database.transaction() as db:
        assert await crud.add_recording_object(db=db, recording_object=_object(0, 100), gaps=2)
        assert await crud.add_recording_object(db=db, recording_object=_object(0, 50, stream="events"))
    async with database.transaction() as db:
        assert await crud.close_recording(db=db, session_id="s1", part_id="p1", now=NOW + timedelta(hours=1),
                                          retention=timedelta(days=30), final=False, gaps=1)
    row = await _row(database)
    assert (row.status, row.started_at, row.ended_at, row.delete_after, row.bytes, row.gaps, row.open_part) == (
        "closed", NOW, NOW + timedelta(hours=1), NOW + timedelta(days=30, hours=1), 150, 3, None)
    async with database.session() as db:
        names = [item.name for item in await crud.recording_objects_of(db=db, session_id="s1")]
    assert names == ["s1/p1/events/000000", "s1/p1/terminal/000000"]


async def test_a_new_part_reopens_a_closed_recording_and_only_its_own_end_closes_it(database):
    await _open(database, "p1")
    await _open(database, "p2", now=NOW + timedelta(minutes=1))  # a reload: p1's end comes after p2 began
    async with database.transaction() as db:
        assert not await crud.close_recording(db=db, session_id="s1", part_id="p1", now=NOW + timedelta(minutes=2),
                                              retention=timedelta(days=30), final=False, gaps=4)
    row = await _row(database)
    assert (row.status, row.open_part, row.started_at, row.gaps) == ("recording", "p2", NOW, 4)
    async with database.transaction() as db:
        assert await crud.close_recording(db=db, session_id="s1", part_id="p2", now=NOW + timedelta(minutes=3),
                                          retention=timedelta(days=30), final=False)
    await _open(database, "p3", now=NOW + timedelta(minutes=4))
    row = await _row(database)
    assert (row.status, row.ended_at, row.delete_after, row.open_part) == ("recording", None, None, "p3")


async def test_the_sessions_end_closes_the_recording_whichever_part_opened_it(database):
    await _open(database, "p1")
    await _open(database, "p2")
    async with database.transaction() as db:
        assert await crud.close_recording(db=db, session_id="s1", part_id="p1", now=NOW, retention=timedelta(days=1),
                                          final=True)
    assert (await _row(database)).status == "closed"


@pytest.mark.parametrize("status", ["erased", "expired"])
async def test_a_recording_that_is_gone_takes_no_part_and_no_object(database, status):
    await _open(database, "p1")
    async with database.transaction() as db:
        row = await crud.recording_of(db=db, session_id="s1")
        row.status = status
        db.add(row)
    assert await _open(database, "p2") is None
    async with database.transaction() as db:
        assert not await crud.add_recording_object(db=db, recording_object=_object(0))
    async with database.transaction() as db:
        assert not await crud.close_recording(db=db, session_id="s1", part_id="p1", now=NOW,
                                              retention=timedelta(days=1), final=True, gaps=3)
    row = await _row(database)
    assert (row.status, row.bytes, row.gaps) == (status, 0, 0)
    async with database.session() as db:
        assert await crud.recording_objects_of(db=db, session_id="s1") == []
