"""The process as `assist dev` starts it: migrate (twice is harmless), then the app with its lifespan."""

from __future__ import annotations

import asyncio

import httpx
from assist_consent.main import create_app, migrate
from assist_consent.settings import Settings
from assist_platform.testing import service_settings


async def test_the_app_becomes_ready_and_answers_health_as_problem_json_elsewhere(
    nats_url, database_location, eventually
):
    settings = service_settings(Settings, nats_url, database_location)
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

