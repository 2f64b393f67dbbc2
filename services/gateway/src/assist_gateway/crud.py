"""Persistence of customer credentials and local assignments (keyword-only functions)."""

from __future__ import annotations


from assist_platform.envelope import utcnow
from sqlalchemy import update
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from .domain import token_digest
from .models import CustomerCredential, FileTransfer, SessionAssignment


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
