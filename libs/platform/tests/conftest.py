"""Fixtures of the shared library's own tests: a database holding just the platform tables, and JetStream."""

from __future__ import annotations

import pytest
from assist_contract.streams import STREAMS
from assist_platform.db import Database, is_postgres, sync_url
from assist_platform.messaging import ensure_streams
from assist_platform.outbox import PLATFORM_TABLES
from assist_platform.settings import PlatformSettings
from sqlalchemy import create_engine, text
from sqlmodel import SQLModel


@pytest.fixture
async def platform_database(database_location):
    settings = PlatformSettings(
        assist_data_dir=database_location.data_dir,
        database_url=database_location.database_url,
        database_schema_prefix=database_location.schema_prefix,
    )
    url, schema = settings.database_location("platform")
    engine = create_engine(sync_url(url))
    with engine.begin() as connection:
        if is_postgres(url):
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            connection.execute(text(f'SET search_path TO "{schema}"'))
        SQLModel.metadata.create_all(connection, tables=list(PLATFORM_TABLES))
    engine.dispose()
    database = Database(url=url, schema=schema)
    yield database
    await database.close()


@pytest.fixture
async def js(nc):
    """JetStream on the test's nats-server, with the system's streams."""
    js = nc.jetstream()
    await ensure_streams(js, STREAMS)
    return js
