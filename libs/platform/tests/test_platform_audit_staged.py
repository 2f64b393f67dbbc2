"""`stage_audit`: entries staged in a transaction join the chain when it commits, in order, after whatever was
committed or appended before them; concurrent transactions still make one unbroken chain; a rollback leaves none."""

from __future__ import annotations

import asyncio

import pytest
from assist_platform.audit import AUDIT_TABLES, AuditEntry, append_audit, stage_audit, verify_chain
from assist_platform.db import connect_args, sync_url
from sqlalchemy import create_engine
from sqlmodel import SQLModel, select


@pytest.fixture
async def audit_database(platform_database):
    url, schema = platform_database.url, platform_database.schema
    engine = create_engine(sync_url(url), connect_args=connect_args(url, schema))
    with engine.begin() as connection:
        SQLModel.metadata.create_all(connection, tables=list(AUDIT_TABLES))
    engine.dispose()
    return platform_database


async def _chain(database) -> list[AuditEntry]:
    async with database.session() as db:
        return list((await db.exec(select(AuditEntry).order_by(AuditEntry.id))).all())


async def test_staged_entries_join_the_chain_at_commit_in_order_and_a_rollback_leaves_none(audit_database):
    async with audit_database.transaction() as db:
        stage_audit(db, action="staged.first", actor="system", session_id="s1")
        await append_audit(db, action="appended", actor="ada")  # written at once: before the staged ones
        stage_audit(db, action="staged.second", actor="system", detail={"n": 2})
        assert await _chain(audit_database) == []  # nothing is visible before the commit
    with pytest.raises(RuntimeError):
        async with audit_database.transaction() as db:
            stage_audit(db, action="rolled.back", actor="system")
            raise RuntimeError("the effect failed")
    async with audit_database.transaction() as db:
        stage_audit(db, action="next", actor="system")

    entries = await _chain(audit_database)
    assert [(entry.id, entry.action) for entry in entries] == [
        (1, "appended"), (2, "staged.first"), (3, "staged.second"), (4, "next")]
    assert verify_chain(entries) is None


async def test_concurrent_transactions_staging_and_appending_make_one_unbroken_chain(audit_database):
    async def writer(number: int) -> None:
        async with audit_database.transaction() as db:
            if number % 3 == 0:
                await append_audit(db, action="appended", actor=f"w{number}")
            for step in range(3):
                stage_audit(db, action="staged", actor=f"w{number}", detail={"step": step})

    await asyncio.gather(*(writer(number) for number in range(12)))

    entries = await _chain(audit_database)
    assert len(entries) == 12 * 3 + 4
    assert verify_chain(entries) is None
    for number in range(12):  # each transaction's staged entries in the order it staged them
        steps = [entry.detail["step"] for entry in entries if entry.actor == f"w{number}" and entry.action == "staged"]
        assert steps == [0, 1, 2]
