"""Deleting recordings (issue #19): the retention sweep, and the customer's erasure.

Both first take the recording's row from a kept status to a gone one in one conditional UPDATE (a claim: of two
replicas, or of the sweep and the customer, exactly one succeeds), then delete its objects from the store and their
rows from `recording_object`. From the claim on, nobody can read the recording (410). An object whose deletion fails
(NATS away) keeps its row, and every sweep deletes what is left of gone recordings, so nothing stays behind for long.

Only the recording is deleted: the session's billing record (billing's) and consent receipt (consent's) belong to
other services, which keep them for their own periods (docs/operations.md "Retention of recordings"); nothing here
reaches them. The row of a deleted recording stays, saying who deleted it when.

Audit: each sweep run is `recording.retention_run` (counts), each recording it deletes `recording.expired`, each
erasure `recording.erased` (written in the claim's transaction: the erasure and its record stand or fall together).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from assist_platform.audit import append_audit, record_audit
from assist_platform.envelope import utcnow
from assist_platform.problems import Problem
from sqlalchemy import and_, delete, func, or_, update
from sqlmodel import select

from ..models import Recording, RecordingObject
from .reading import gone, not_recorded, rfc3339, unix
from .rules import (
    ERASED_BY_CUSTOMER, ERASED_BY_RETENTION, GONE_STATUSES, KEPT_STATUSES, is_due, retention_of,
)

log = logging.getLogger(__name__)
SYSTEM_ACTOR = "system"
BATCH = 200


@dataclass
class SweepCounts:
    expired: int = 0  # recordings this run claimed and deleted
    objects_deleted: int = 0
    bytes_deleted: int = 0
    objects_left: int = 0  # objects whose deletion failed: the next run tries again
    leftovers: int = 0  # recordings gone before this run whose objects were still there


async def delete_objects(*, database, store, session_id: str) -> tuple[int, int, int]:
    """Deletes every object the index lists for a recording, and each one's row once it is gone from the store.
    (deleted, bytes, left): an object that could not be deleted keeps its row."""
    async with database.session() as db:
        row = await db.get(Recording, session_id)
        items = list((await db.exec(select(RecordingObject).where(RecordingObject.session_id == session_id))).all())
    deleted = size = left = 0
    for item in items:
        try:
            await store.delete(row.bucket, item.name)
        except Exception as error:
            log.warning("recording object %s/%s not deleted yet: %s", row.bucket, item.name, error)
            left += 1
            continue
        async with database.transaction() as db:
            await db.exec(delete(RecordingObject).where(RecordingObject.session_id == session_id,
                                                        RecordingObject.name == item.name))
        deleted, size = deleted + 1, size + (item.bytes or 0)
    return deleted, size, left


def _claimed(result) -> Recording | None:
    return result.scalars().first()


# --- erasure --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Erased:
    row: Recording
    complete: bool  # every object is gone from the store


async def erase(*, database, store, session_id: str, actor: str = ERASED_BY_CUSTOMER,
                client_address: str | None = None, stop_recording=None) -> Erased:
    """The customer's erasure: at once, whatever the retention. 404 without a recording, 410 once it expired; again
    after an erasure, it deletes whatever is left and answers the same. A recording still being written is stopped
    first on this replica (`stop_recording(session_id)`); a recorder elsewhere finds its row erased and stops, and
    what it wrote in between is deleted as a leftover."""
    now = utcnow()
    async with database.transaction() as db:
        statement = (update(Recording).where(Recording.session_id == session_id, Recording.status.in_(KEPT_STATUSES))
                     .values(status="erased", erased_at=now, erased_by=ERASED_BY_CUSTOMER).returning(Recording))
        row = _claimed(await db.exec(statement))
        if row is not None:
            counts = (await db.exec(select(func.count(), func.coalesce(func.sum(RecordingObject.bytes), 0))
                                    .where(RecordingObject.session_id == session_id))).one()
            await append_audit(db, action="recording.erased", actor=actor, session_id=session_id,
                               client_address=client_address,
                               detail={"objects": int(counts[0]), "bytes": int(counts[1]),
                                       "started_at": rfc3339(row.started_at)})
        else:
            row = await db.get(Recording, session_id)
    if row is None:
        raise not_recorded()
    if row.status == "expired":
        raise gone(row)
    if stop_recording is not None:
        try:
            await stop_recording(session_id)
        except Exception:  # stopping is a courtesy: the objects are deleted below, leftovers by the sweep
            log.exception("the recorder of %s did not stop", session_id)
    _deleted, _size, left = await delete_objects(database=database, store=store, session_id=session_id)
    return Erased(row=row, complete=left == 0)


# --- the sweep ------------------------------------------------------------------------------------------------------

def _due_clause(now: datetime):
    """Rows that may be due: closed and past `delete_after`, or not closed (each checked by `is_due` with its class's
    retention)."""
    return and_(Recording.status.in_(KEPT_STATUSES),
                or_(Recording.delete_after.is_(None), Recording.delete_after <= now))


async def _candidates(database, now: datetime, after: str) -> list[Recording]:
    async with database.session() as db:
        statement = (select(Recording).where(_due_clause(now), Recording.session_id > after)
                     .order_by(Recording.session_id).limit(BATCH))
        return list((await db.exec(statement)).all())


async def _claim_expired(database, row: Recording, now: datetime) -> Recording | None:
    """The row as the sweep judged it, taken to `expired`; None if it changed meanwhile (closed, erased, or claimed
    by another replica): then it is judged again at the next run."""
    same_deadline = (Recording.delete_after.is_(None) if row.delete_after is None
                     else Recording.delete_after == row.delete_after)
    async with database.transaction() as db:
        statement = (update(Recording)
                     .where(Recording.session_id == row.session_id, Recording.status == row.status, same_deadline)
                     .values(status="expired", erased_at=now, erased_by=ERASED_BY_RETENTION).returning(Recording))
        claimed = _claimed(await db.exec(statement))
        if claimed is not None:
            await append_audit(db, action="recording.expired", actor=SYSTEM_ACTOR, session_id=row.session_id,
                               detail={"started_at": rfc3339(row.started_at), "ended_at": rfc3339(row.ended_at),
                                       "delete_after": rfc3339(row.delete_after),
                                       "retention_class": row.retention_class})
    return claimed


async def _leftover_sessions(database) -> list[str]:
    async with database.session() as db:
        statement = (select(RecordingObject.session_id).join(Recording, Recording.session_id
                                                             == RecordingObject.session_id)
                     .where(Recording.status.in_(GONE_STATUSES)).distinct().limit(BATCH))
        return list((await db.exec(statement)).all())


async def sweep_once(*, database, store, retention_days: dict[str, float], replica: str,
                     now: datetime | None = None) -> SweepCounts:
    """One run: every recording past its retention deleted, what is left of gone ones too; audited with counts."""
    now = now or utcnow()
    counts = SweepCounts()
    after = ""
    while batch := await _candidates(database, now, after):
        after = batch[-1].session_id
        for row in batch:
            retention = retention_of(row.retention_class, retention_days)
            if not is_due(status=row.status, started_at=row.started_at, delete_after=row.delete_after,
                          retention=retention, now=now):
                continue
            if await _claim_expired(database, row, now) is None:
                continue
            counts.expired += 1
            deleted, size, left = await delete_objects(database=database, store=store, session_id=row.session_id)
            counts.objects_deleted, counts.bytes_deleted = counts.objects_deleted + deleted, counts.bytes_deleted + size
            counts.objects_left += left
    for session_id in await _leftover_sessions(database):
        deleted, size, left = await delete_objects(database=database, store=store, session_id=session_id)
        if deleted:
            counts.leftovers += 1
        counts.objects_deleted, counts.bytes_deleted = counts.objects_deleted + deleted, counts.bytes_deleted + size
        counts.objects_left += left
    await record_audit(database, action="recording.retention_run", actor=SYSTEM_ACTOR,
                       detail={**asdict(counts), "replica": replica, "at": rfc3339(unix(now))})
    return counts


async def run_sweeps(*, database, store, retention_days: dict[str, float], replica: str,
                     every_seconds: float) -> None:
    """The sweep, forever: once soon after the start, then every `every_seconds`. A run that fails is logged and
    the next one comes at its time (a failure never stops the task)."""
    while True:
        try:
            counts = await sweep_once(database=database, store=store, retention_days=retention_days, replica=replica)
            if counts.expired or counts.leftovers or counts.objects_left:
                log.info("recording retention: %s", asdict(counts))
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("recording retention run failed")
        await asyncio.sleep(every_seconds)


def retention_days_of(settings) -> dict[str, float]:
    """Retention per class: `standard` is RECORDING_RETENTION_DAYS (the only class configured so far)."""
    return {"standard": float(settings.recording_retention_days)}


def erasure_problem_when_incomplete(erased: Erased) -> None:
    """503 when objects are left after an erasure (the store did not answer): the recording can no longer be read,
    and asking again (or the next sweep) deletes the rest."""
    if not erased.complete:
        raise Problem(503, "Service unavailable", "The recording is erased, but part of it is still being deleted; "
                      "ask again shortly.", code="recording_erasure_incomplete", retry_after=5)


def sweep_task(settings, store):
    """The sweep as the runtime's background task (started on every replica once NATS is connected), whether or
    not this replica records: recordings made earlier still expire."""
    async def recording_retention(runtime) -> None:
        await run_sweeps(database=runtime.database, store=store, retention_days=retention_days_of(settings),
                         replica=settings.replica_id, every_seconds=settings.recording_sweep_seconds)
    return recording_retention
