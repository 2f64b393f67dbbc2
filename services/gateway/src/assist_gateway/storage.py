"""The gateway's database: where it lives and how it is brought to the newest schema.

Apart from `main.py` so that whatever needs the database without the app (`assist user add` through
`staff.add_user`) does not import the app, and the app does not import it back.
"""

from __future__ import annotations

from assist_platform.db import Database
from assist_platform.migrations import service_metadata, upgrade

from .models import TABLES
from .settings import Settings

SERVICE = "gateway"


def migrate(settings: Settings) -> None:
    url, schema = settings.database_location(SERVICE)
    upgrade(url=url, schema=schema, package="assist_gateway", metadata=service_metadata(TABLES))


def open_database(settings: Settings) -> Database:
    url, schema = settings.database_location(SERVICE)
    return Database(url=url, schema=schema)
