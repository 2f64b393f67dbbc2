"""`assist audit verify`: check every service's hash-chained audit trail, straight from its database."""

from __future__ import annotations

import sys
from typing import TextIO

from assist_platform.audit import AuditEntry, verify_chain
from assist_platform.db import connect_args, sync_url
from sqlalchemy import create_engine, inspect
from sqlmodel import Session, select

from . import services


def _chain_of(name: str) -> list[AuditEntry] | None:
    """Every audit entry of the service in id order, or None when the service keeps no audit trail."""
    url, schema = services.settings_for(name).database_location(name)
    engine = create_engine(sync_url(url), connect_args=connect_args(url, schema))
    try:
        if not inspect(engine).has_table(AuditEntry.__tablename__):
            return None
        with Session(engine) as db:
            return list(db.exec(select(AuditEntry).order_by(AuditEntry.id)).all())
    finally:
        engine.dispose()


def verify_all(out: TextIO = sys.stdout) -> int:
    """One line per service; exit status 1 when any chain is broken, else 0."""
    broken = False
    for name in services.available_services():
        rows = _chain_of(name)
        if rows is None:
            continue
        first_bad = verify_chain(rows)
        if first_bad is None:
            print(f"{name}: intact ({len(rows)} entries)", file=out)
            continue
        broken = True
        print(f"{name}: entry {first_bad.id} ({first_bad.action} at {first_bad.at.isoformat()}) breaks the chain",
              file=out)
    return 1 if broken else 0
