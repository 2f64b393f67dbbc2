"""The session process as the CLI starts it: migrate, then the app, whose lifespan runs the runtime."""

from __future__ import annotations

import time

from assist_session.main import create_app, migrate
from assist_platform.testing import service_settings
from assist_session.settings import Settings
from fastapi.testclient import TestClient


def test_the_app_becomes_ready_and_answers_health_checks(nats_url, database_location):
    settings = service_settings(Settings, nats_url, database_location)
    migrate(settings)
    migrate(settings)  # idempotent: a restart migrates again
    with TestClient(create_app(settings)) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        deadline = time.monotonic() + 15
        while (ready := client.get("/readyz")).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting for NATS and the consumer, polled
        assert ready.json() == {"status": "ready", "checks": {"database": True, "nats": True, "subscriptions": True}}
        assert client.get("/nothing-here").headers["content-type"] == "application/problem+json"
