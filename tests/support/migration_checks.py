"""A service's migrations against its models, on the test's database (SQLite, or PostgreSQL with DATABASE_URL).

- `assert_fresh_database_matches_models`: migrate a fresh database to heads; Alembic's autogenerate comparison with
  the models is empty.
- `migrate_as_before_platform_branch`: the database as the code before the `platform` migration branch left it,
  migrated by that code's own revision files (read from git), to show that the new heads upgrade it in place.
"""

from __future__ import annotations

import importlib
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from alembic import command
from alembic.config import Config
from assist_platform.db import connect_args, is_postgres, resolve_database_url, sync_url
from assist_platform.migrations import schema_drift, service_metadata, upgrade
from sqlalchemy import MetaData, create_engine, func, inspect, select, text
from sqlalchemy.engine import Engine

REPO = Path(__file__).resolve().parents[2]
# The last commit whose service revisions created the outbox, processed-event and audit tables themselves.
BEFORE_PLATFORM_BRANCH = "7906c66aba935c39d6b296f237bc21f09509b5ef"


@dataclass(frozen=True)
class ServiceDatabase:
    service: str
    url: str
    schema: str

    @property
    def package(self) -> str:
        return f"assist_{self.service}"

    @property
    def metadata(self) -> MetaData:
        return service_metadata(importlib.import_module(f"{self.package}.models").TABLES)

    def engine(self) -> Engine:
        return create_engine(sync_url(self.url), connect_args=connect_args(self.url, self.schema))

    def upgrade(self) -> None:
        """What `assist migrate` does: the service's chain and the platform branch, to heads."""
        upgrade(url=self.url, schema=self.schema, package=self.package, metadata=self.metadata)

    def drift(self) -> list[tuple]:
        return schema_drift(url=self.url, schema=self.schema, package=self.package, metadata=self.metadata)

    def row_counts(self) -> dict[str, int]:
        engine = self.engine()
        try:
            with engine.connect() as connection:
                names = [name for name in inspect(connection).get_table_names() if name != "alembic_version"]
                return {name: connection.execute(select(func.count()).select_from(text(name))).scalar_one()
                        for name in names}
        finally:
            engine.dispose()

    def versions(self) -> set[str]:
        engine = self.engine()
        try:
            with engine.connect() as connection:
                return set(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
        finally:
            engine.dispose()


def service_database(service: str, database_location) -> ServiceDatabase:
    """The service's database in the test's location, as `Settings.database_location` names it."""
    schema = f"{database_location.schema_prefix}{service}"
    url = resolve_database_url(database_url=database_location.database_url, data_dir=database_location.data_dir,
                               service=schema)
    if is_postgres(url):
        engine = create_engine(sync_url(url))
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        engine.dispose()
    return ServiceDatabase(service=service, url=url, schema=schema)


def _git(*args: str) -> str:
    has_history = subprocess.run(["git", "cat-file", "-e", f"{BEFORE_PLATFORM_BRANCH}^{{commit}}"], cwd=REPO,
                                 capture_output=True, timeout=30).returncode == 0
    if not has_history:  # a shallow clone or an unpacked archive: the old revision files cannot be read
        pytest.skip(f"commit {BEFORE_PLATFORM_BRANCH[:7]} is not in this checkout (a shallow clone?): the upgrade "
                    "from the revisions before the platform branch needs the repository's history")
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, (
        f"git {' '.join(args)}: {done.stderr.strip()} (this test reads the revisions of commit "
        f"{BEFORE_PLATFORM_BRANCH[:7]}: run it in a clone with history)"
    )
    return done.stdout


def migrate_as_before_platform_branch(database: ServiceDatabase, scratch: Path) -> set[str]:
    """Migrate `database` to head with the service's revision files as they were at BEFORE_PLATFORM_BRANCH;
    returns those revision ids."""
    folder = f"services/{database.service}/src/{database.package}/migrations"
    script = scratch / f"{database.service}-migrations-before"
    (script / "versions").mkdir(parents=True)
    files = _git("ls-tree", "-r", "--name-only", BEFORE_PLATFORM_BRANCH, folder).split()
    for name in files:
        relative = Path(name).relative_to(folder)
        (script / relative).write_text(_git("show", f"{BEFORE_PLATFORM_BRANCH}:{name}"))
    config = Config()
    config.set_main_option("script_location", str(script))
    config.attributes.update(url=database.url, schema=database.schema, metadata=database.metadata)
    command.upgrade(config, "head")
    return {Path(name).name.split("_")[0] for name in files if "/versions/" in name}


def add_platform_rows(database: ServiceDatabase) -> None:
    """An unsent outbox event, a processed event and (where the table exists) an audit entry, in the platform's
    tables: the rows an upgrade must keep."""
    from datetime import UTC, datetime

    from assist_platform.audit import GENESIS, AuditEntry, entry_hash
    from assist_platform.outbox import OutboxEvent, ProcessedEvent

    now = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    engine = database.engine()
    try:
        with engine.begin() as connection:
            connection.execute(OutboxEvent.__table__.insert().values(
                event_id="before-platform-branch", subject=f"{database.service}.example", payload=b"{}",
                headers="{}", created_at=now))
            connection.execute(ProcessedEvent.__table__.insert().values(
                consumer="example", event_id="before-platform-branch", processed_at=now))
            if inspect(connection).has_table("audit_entry"):
                entry = AuditEntry(id=1, at=now, action="example.done", actor="system", detail={"n": 1},
                                   prev_hash=GENESIS)
                entry.hash = entry_hash(GENESIS, entry)
                connection.execute(AuditEntry.__table__.insert().values(
                    id=1, at=now, action=entry.action, actor=entry.actor, detail=entry.detail, prev_hash=GENESIS,
                    hash=entry.hash))
    finally:
        engine.dispose()


def audit_chain_is_intact(database: ServiceDatabase) -> bool:
    from assist_platform.audit import AuditEntry, verify_chain
    from sqlmodel import Session
    from sqlmodel import select as select_entities

    engine = database.engine()
    try:
        with Session(engine) as db:
            return verify_chain(db.exec(select_entities(AuditEntry).order_by(AuditEntry.id)).all()) is None
    finally:
        engine.dispose()


def assert_fresh_database_matches_models(database: ServiceDatabase) -> None:
    """A fresh database migrated to heads holds exactly what the service's models declare."""
    database.upgrade()
    assert database.drift() == []


def assert_upgrades_in_place(
    database: ServiceDatabase, scratch: Path, *, new_tables: set[str], dropped_tables: frozenset[str] = frozenset()
) -> None:
    """A database migrated by the code before the platform branch, with rows in the platform's tables, reaches the
    new heads: no row lost, only `new_tables` added and `dropped_tables` (retired by a later revision) gone, no drift
    from the models, and a second upgrade changes nothing."""
    old_revisions = migrate_as_before_platform_branch(database, scratch)
    assert database.versions() == {max(old_revisions)}
    add_platform_rows(database)
    before = database.row_counts()

    database.upgrade()

    after = database.row_counts()
    assert set(before) - set(after) == dropped_tables
    assert {name: after[name] for name in before if name not in dropped_tables} == {
        name: count for name, count in before.items() if name not in dropped_tables}
    assert set(after) - set(before) == new_tables
    assert database.drift() == []
    assert audit_chain_is_intact(database)
    versions = database.versions()
    database.upgrade()
    assert database.versions() == versions and database.row_counts() == after
