"""One database per service: SQLite file by default, a PostgreSQL schema in production."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from pathlib import Path
from typing import TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from .files import create_owner_only_file

T = TypeVar("T")


def resolve_database_url(*, database_url: str | None, data_dir: Path, service: str) -> str:
    """The sync URL for this service: the shared PostgreSQL server, or `<data_dir>/<service>.sqlite3`."""
    if database_url:
        return database_url
    path = data_dir / f"{service}.sqlite3"
    create_owner_only_file(path)
    return f"sqlite:///{path.resolve()}"


def is_postgres(url: str) -> bool:
    return make_url(url).get_backend_name() == "postgresql"


def async_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def sync_url(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return parsed.set(drivername="sqlite").render_as_string(hide_password=False)
    return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def connect_args(url: str, schema: str) -> dict:
    if is_postgres(url):
        # A schema per service: every unqualified table name resolves inside it.
        return {"options": f"-csearch_path={schema}"}
    return {"timeout": 30}


def _tune_sqlite(engine_sync) -> None:
    @event.listens_for(engine_sync, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # pragma: no cover - exercised through every test
        # We emit BEGIN ourselves (below), so the driver must not open transactions of its own.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the single writer; NORMAL sync is durable across process crashes.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine_sync, "begin")
    def _on_begin(connection) -> None:  # pragma: no cover - exercised through every test
        if connection.get_execution_options().get(_READ_ONLY):
            connection.exec_driver_sql("BEGIN")  # a WAL snapshot: reads never wait for the writer
            return
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads, then writes after another
        # writer committed, fails with SQLITE_BUSY_SNAPSHOT, which no busy timeout can wait out.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# Execution option of the engine behind `Database.session()`: its transactions only read.
_READ_ONLY = "assist_read_only"
# Key in `Session.info` of the `Database` that made the session.
_DATABASE = "assist.database"


class Database:
    """The async engine and session factory of one service's database."""

    def __init__(self, *, url: str, schema: str) -> None:
        self.url = url
        self.schema = schema
        self.engine: AsyncEngine = create_async_engine(
            async_url(url), connect_args=connect_args(url, schema), pool_pre_ping=is_postgres(url)
        )
        # Each session knows its database (`database_of`), so a commit hook can reach what this database wakes.
        info = {_DATABASE: self}
        self._sessions = async_sessionmaker(self.engine, class_=AsyncSession, expire_on_commit=False, info=info)
        self._read_sessions = self._sessions
        # Called after each commit of this database that wrote outbox rows (outbox.py): the outbox publisher
        # registers here, so staging an event wakes it without the caller saying so.
        self.on_events_committed: list[Callable[[], None]] = []
        # SQLite has one writer at a time. Writers of this process queue here, in order, instead of in SQLite's
        # busy handler, which sleeps in steps of up to 100 ms: two tasks taking turns (a consumer and the outbox
        # publisher) would otherwise add those sleeps to the latency of every event. Other processes (the CLI)
        # still wait in the busy handler.
        self._writer: AbstractAsyncContextManager = nullcontext()
        if not is_postgres(url):
            _tune_sqlite(self.engine.sync_engine)
            self._writer = asyncio.Lock()
            self._read_sessions = async_sessionmaker(
                self.engine.execution_options(**{_READ_ONLY: True}), class_=AsyncSession, expire_on_commit=False,
                info=info,
            )

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session for reading (it must not write: on SQLite its transaction does not take the write lock)."""
        async with self._read_sessions() as db:
            yield db

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session inside one transaction: committed on success, rolled back on any exception."""
        async with self._writer, self._sessions() as db, db.begin():
            yield db

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def events_committed(self) -> None:
        for listener in list(self.on_events_committed):
            listener()

    async def close(self) -> None:
        await self.engine.dispose()


def database_of(session: AsyncSession | Session) -> Database | None:
    """The `Database` whose transaction `session` is (None for a session made elsewhere, as by Alembic)."""
    return session.info.get(_DATABASE)


async def finish_even_if_cancelled(work: Awaitable[T]) -> T:
    """Run `work` (database work of a background loop) to its end even if the loop is cancelled meanwhile,
    then pass the cancellation on.

    A transaction cancelled half-way (the runtime cancels its tasks at shutdown) can leave its aiosqlite
    connection holding SQLite's write lock, and every later transaction then waits out the busy timeout (30 s).
    """
    task = asyncio.ensure_future(work)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await task
        raise


# Lists a transaction collects as it goes, in `Session.info`, by name; all are dropped if it rolls back.
_PER_TRANSACTION = "assist.per_transaction"


def transaction_list(db: AsyncSession | Session, name: str) -> list:
    """The list `name` of the transaction of `db`, created empty on first use."""
    return db.info.setdefault(_PER_TRANSACTION, {}).setdefault(name, [])


def take_transaction_list(session: Session, name: str) -> list:
    """The list `name` of the transaction, emptied out of it (for a commit hook that handles it once)."""
    return session.info.get(_PER_TRANSACTION, {}).pop(name, [])


@event.listens_for(Session, "after_soft_rollback")
def _forget_transaction_lists(session: Session, _previous_transaction) -> None:
    if not session.in_transaction():  # the whole transaction, not a savepoint inside it
        session.info.pop(_PER_TRANSACTION, None)


def before_commit(db: AsyncSession, callback) -> None:
    """Run `callback(session)` inside the transaction of `db` just before it commits (never if it rolls back):
    for rows a transaction stages as it goes and writes in one statement at the end."""
    transaction_list(db, "before_commit").append(callback)


@event.listens_for(Session, "before_commit")
def _run_before_commit(session: Session) -> None:
    for callback in take_transaction_list(session, "before_commit"):
        callback(session)


def after_commit(db: AsyncSession, callback) -> None:
    """Run `callback()` once the transaction of `db` has committed (never if it rolls back): for counters that
    must count only what really happened."""
    # A list in the session, not a listener per call: registering an event listener costs more than a close.
    transaction_list(db, "after_commit").append(callback)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for callback in take_transaction_list(session, "after_commit"):
        callback()
