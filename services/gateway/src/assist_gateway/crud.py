"""Persistence of customer credentials and local assignments (keyword-only functions)."""

from __future__ import annotations


from datetime import datetime, timedelta

from assist_platform.envelope import utcnow
from sqlalchemy import insert, update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .domain import token_digest
from .models import CustomerCredential, FileTransfer, Recording, RecordingObject, SessionAssignment


async def store_customer_credential(*, db: AsyncSession, session_id: str, customer_token: str) -> None:
    db.add(CustomerCredential(token_sha256=token_digest(customer_token), session_id=session_id))
    await db.flush()


async def session_of_token_digest(*, db: AsyncSession, digest: str) -> str | None:
    """The session the customer token with this digest opens, or None if it is no customer token."""
    credential = await db.get(CustomerCredential, digest)
    return credential.session_id if credential else None


async def record_assignment(*, db: AsyncSession, session_id: str, consultant: str) -> None:
    assignment = await db.get(SessionAssignment, session_id)
    if assignment is None:
        db.add(SessionAssignment(session_id=session_id, consultant=consultant))
    else:
        assignment.consultant = consultant
        db.add(assignment)
    await db.flush()


async def assigned_consultant(*, db: AsyncSession, session_id: str) -> str | None:
    assignment = await db.get(SessionAssignment, session_id)
    return assignment.consultant if assignment else None


# --- file transfers (#17): the relay's record of each, written by the service layer -----------------------------------
FILE_OPEN_STATUSES = ("offered", "sending")


async def add_file_transfer(*, db: AsyncSession, transfer: FileTransfer) -> bool:
    """The first offer of a transfer; an offer again (after a drop) keeps the row as it is. Whether it was new."""
    if await db.get(FileTransfer, (transfer.session_id, transfer.transfer_id)) is not None:
        return False
    db.add(transfer)
    await db.flush()
    return True


async def move_open_file_transfers(*, db: AsyncSession, session_id: str, transfer_id: str | None = None,
                                   **fields) -> list[FileTransfer]:
    """Set `fields` on the session's transfers still open (one, or all of them), in one UPDATE that each row passes
    once, whoever else closes it at the same time; the rows it changed."""
    statement = update(FileTransfer).where(FileTransfer.session_id == session_id,
                                           FileTransfer.status.in_(FILE_OPEN_STATUSES))
    if transfer_id is not None:
        statement = statement.where(FileTransfer.transfer_id == transfer_id)
    result = await db.exec(statement.values(updated_at=utcnow(), **fields).returning(FileTransfer))
    return list(result.scalars().all())


async def file_transfers_of(*, db: AsyncSession, session_id: str) -> list[FileTransfer]:
    statement = select(FileTransfer).where(FileTransfer.session_id == session_id).order_by(FileTransfer.offered_at)
    return list((await db.exec(statement)).all())


# --- recordings (#19): a session's row and its objects, written by its parts' recorders (recording/recorder.py) -----
RECORDING_KEPT_STATUSES = ("recording", "closed")  # its objects exist (recording/rules.py KEPT_STATUSES)


async def open_recording(*, db: AsyncSession, session_id: str, retention_class: str, bucket: str, part_id: str,
                         now: datetime) -> str | None:
    """A part begins: the session's row, made if absent (`started_at` now), or made `recording` again by this part
    (a closed one reopened: no end, no deadline until it closes again). The bucket the part writes into (the row's),
    or None when the recording was erased or has expired: nothing more is recorded then. Two replicas inserting
    at once: one gets IntegrityError at the flush, and runs the transaction again."""
    row = await db.get(Recording, session_id)
    if row is None:
        db.add(Recording(session_id=session_id, retention_class=retention_class, bucket=bucket, status="recording",
                         started_at=now, open_part=part_id))
        await db.flush()
        return bucket
    result = await db.exec(
        update(Recording).where(Recording.session_id == session_id, Recording.status.in_(RECORDING_KEPT_STATUSES))
        .values(status="recording", open_part=part_id, ended_at=None, delete_after=None)
    )
    return row.bucket if result.rowcount == 1 else None


async def add_recording_objects(*, db: AsyncSession, session_id: str, recording_objects: list[RecordingObject],
                                gaps: int = 0) -> bool:
    """Objects written (a part's segments of one write): listed, their bytes (and the part's `gaps` since its last
    write) counted on the row, only while the recording is kept (one conditional UPDATE, so an erasure either sees
    the objects listed or refuses them here). False: the recording is gone, and the caller deletes the objects it
    wrote. One UPDATE and one INSERT whatever their number: a recorder writes every few seconds."""
    result = await db.exec(
        update(Recording)
        .where(Recording.session_id == session_id, Recording.status.in_(RECORDING_KEPT_STATUSES))
        .values(bytes=Recording.bytes + sum(item.bytes for item in recording_objects), gaps=Recording.gaps + gaps)
    )
    if result.rowcount != 1:
        return False
    if recording_objects:
        await db.exec(insert(RecordingObject), params=[item.model_dump() for item in recording_objects])
    return True


async def add_recording_object(*, db: AsyncSession, recording_object: RecordingObject, gaps: int = 0) -> bool:
    """One object written (`add_recording_objects`)."""
    return await add_recording_objects(db=db, session_id=recording_object.session_id,
                                       recording_objects=[recording_object], gaps=gaps)


async def close_recording(*, db: AsyncSession, session_id: str, part_id: str, now: datetime, retention: timedelta,
                          final: bool, gaps: int = 0) -> bool:
    """A part ended: the row is closed (ended_at now, delete_after now + `retention`) if this part opened it last,
    or whatever part did when `final` (the session ended). A later part's recording stays open. The part's last
    `gaps` are counted either way. Whether it closed."""
    statement = update(Recording).where(Recording.session_id == session_id, Recording.status == "recording")
    if not final:
        statement = statement.where(Recording.open_part == part_id)
    result = await db.exec(statement.values(status="closed", ended_at=now, delete_after=now + retention,
                                            open_part=None, gaps=Recording.gaps + gaps))
    if result.rowcount == 1:
        return True
    if gaps:
        await db.exec(update(Recording).where(Recording.session_id == session_id,
                                              Recording.status.in_(RECORDING_KEPT_STATUSES))
                      .values(gaps=Recording.gaps + gaps))
    return False


async def recording_of(*, db: AsyncSession, session_id: str) -> Recording | None:
    return await db.get(Recording, session_id)


async def recording_objects_of(*, db: AsyncSession, session_id: str) -> list[RecordingObject]:
    """The session's objects, by stream, part and segment."""
    statement = select(RecordingObject).where(RecordingObject.session_id == session_id).order_by(
        RecordingObject.stream, RecordingObject.part_id, RecordingObject.seq)
    return list((await db.exec(statement)).all())
