"""The process as `assist dev` starts it: migrate (twice is harmless), then the app with its lifespan."""

from __future__ import annotations

import asyncio

import httpx
from assist_consent.main import create_app, migrate


async def test_the_app_becomes_ready_and_answers_health_as_problem_json_elsewhere(
    nats_url, database_location, eventually
):
    settings = _settings(nats_url, database_location)
    await asyncio.to_thread(migrate, settings)
    await asyncio.to_thread(migrate, settings)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://consent"
        ) as client:
            assert (await client.get("/healthz")).json() == {"status": "ok"}

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            await eventually(ready, what="/readyz to answer 200")
            missing = await client.get("/nothing-here")
            assert missing.status_code == 404
            assert missing.headers["content-type"].startswith("application/problem+json")


def _settings(nats_url, database_location):
    from assist_consent.settings import Settings

    return Settings(
        nats_url=nats_url,
        assist_data_dir=database_location.data_dir,
        database_url=database_location.database_url,
        database_schema_prefix=database_location.schema_prefix,
    )
