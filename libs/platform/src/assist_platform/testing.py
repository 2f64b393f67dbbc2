"""Pytest plugin: a real nats-server on a free port, and a real database (SQLite file or a PostgreSQL schema).

Load it with `-p assist_platform.testing`. `NATS_URL` and `DATABASE_URL` switch to external servers.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from .natsserver import NatsServerProcess, free_port, nats_server_binary, wait_for_port

__all__ = ["NatsServerProcess", "free_port", "nats_server_binary", "wait_for_port"]


@pytest.fixture
def own_nats_server(tmp_path: Path):
    """Always a private nats-server, for tests that stop and restart it."""
    server = NatsServerProcess(tmp_path / "jetstream").start()
    yield server
    server.stop()


@pytest.fixture
def nats_url(tmp_path: Path):
    """The URL of a nats-server with JetStream: `NATS_URL` if set, else a private one for this test."""
    external = os.environ.get("NATS_URL")
    if external:
        yield external
        return
    server = NatsServerProcess(tmp_path / "jetstream").start()
    yield server.url
    server.stop()


class DatabaseLocation:
    """Where a test's services keep their data: a SQLite directory, or schemas under one PostgreSQL database."""

    def __init__(self, *, data_dir: Path, database_url: str | None, schema_prefix: str) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.schema_prefix = schema_prefix

    @property
    def backend(self) -> str:
        return "postgresql" if self.database_url else "sqlite"

    def env(self) -> dict[str, str]:
        env = {"ASSIST_DATA_DIR": str(self.data_dir), "DATABASE_SCHEMA_PREFIX": self.schema_prefix}
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def drop(self) -> None:
        if not self.database_url:
            return
        from sqlalchemy import create_engine, text

        from .db import sync_url

        engine = create_engine(sync_url(self.database_url))
        with engine.begin() as connection:
            schemas = connection.execute(
                text("SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :p"),
                {"p": f"{self.schema_prefix}%"},
            ).scalars().all()
            for schema in schemas:
                connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def database_location(tmp_path: Path):
    """SQLite files in a temporary directory, or (with `DATABASE_URL`) fresh schemas dropped afterwards."""
    location = DatabaseLocation(
        data_dir=tmp_path / "data",
        database_url=os.environ.get("DATABASE_URL") or None,
        schema_prefix=f"t{uuid.uuid4().hex[:10]}_",
    )
    location.data_dir.mkdir(parents=True, exist_ok=True)
    yield location
    location.drop()


@pytest.fixture
def scratch_dir():
    path = Path(tempfile.mkdtemp(prefix="assist-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)
