"""Alembic, shared: each service keeps its revisions in `<package>/migrations`, and one env serves them all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import MetaData, Table, create_engine, text

from .db import connect_args, is_postgres, sync_url

if TYPE_CHECKING:
    from alembic.config import Config


def service_metadata(tables: tuple[Table, ...] | list[Table]) -> MetaData:
    """A metadata holding only this service's tables (SQLModel's global one holds every imported model)."""
    metadata = MetaData()
    for table in tables:
        table.to_metadata(metadata)
    return metadata


def alembic_config(*, url: str, schema: str, package: str, metadata: MetaData) -> Config:
    # Imported here: every service process imports this module, and only `assist migrate` runs Alembic (whose
    # import costs a third of a second of each replica's start).
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    config.attributes.update(url=url, schema=schema, metadata=metadata)
    return config


def upgrade(*, url: str, schema: str, package: str, metadata: MetaData) -> None:
    """Bring the service's database to the newest revision (idempotent)."""
    if is_postgres(url):
        engine = create_engine(sync_url(url))
        with engine.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        engine.dispose()
    from alembic import command

    command.upgrade(alembic_config(url=url, schema=schema, package=package, metadata=metadata), "head")


def run_env(context) -> None:
    """The body of every service's `migrations/env.py`."""
    attributes = context.config.attributes
    url, schema, metadata = attributes["url"], attributes["schema"], attributes["metadata"]
    engine = create_engine(sync_url(url), connect_args=connect_args(url, schema))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema if is_postgres(url) else None,
            render_as_batch=not is_postgres(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
