"""Fixtures of the gateway tests: a migrated gateway on a real nats-server and database, and staff accounts.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

import httpx
import pytest
from assist_gateway.main import create_app, migrate
from assist_gateway.settings import Settings
from assist_gateway.staff import create_staff_account
from assist_platform.testing import migrate_from_template, service_running, service_settings

PASSWORD = "correct horse battery"


@pytest.fixture
def gateway_settings(nats_url, database_location) -> Settings:
    return service_settings(Settings, nats_url, database_location)


class RunningGateway:
    def __init__(self, app) -> None:
        self.app = app
        self.runtime = app.state.runtime
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gateway.test"
        )

    async def add_staff(self, username: str, role: str, password: str = PASSWORD) -> None:
        async with self.runtime.database.transaction() as db:
            await create_staff_account(db=db, username=username, password=password, role=role)

    async def login(self, username: str, password: str = PASSWORD) -> httpx.Response:
        return await self.client.post("/api/v1/auth/token", data={"username": username, "password": password})

    async def staff_headers(self, username: str, role: str) -> dict[str, str]:
        await self.add_staff(username, role)
        response = await self.login(username)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['access_token']}"}


@asynccontextmanager
async def start_gateway(settings: Settings):
    """Migrate, build the app and run its lifespan; yields a RunningGateway once its runtime is ready."""
    await asyncio.to_thread(migrate_from_template, migrate, settings, "gateway")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        gateway = RunningGateway(app)
        await asyncio.wait_for(gateway.runtime.ready.wait(), timeout=20)
        async with gateway.client:
            yield gateway


@pytest.fixture
def gateway_factory():
    """`async with gateway_factory(settings) as gateway:` (test modules cannot import this conftest)."""
    return start_gateway


@pytest.fixture
def staff_password() -> str:
    return PASSWORD


@pytest.fixture
async def gateway(gateway_settings):
    async with start_gateway(gateway_settings) as running:
        yield running


@asynccontextmanager
async def start_backends(nats_url: str, database_location, *, lease_seconds: float = 5.0):
    """The consent, session and billing runtimes, in this process, on the same nats-server and database."""
    from assist_billing import main as billing_main
    from assist_billing.settings import Settings as BillingSettings
    from assist_consent import main as consent_main
    from assist_consent.settings import Settings as ConsentSettings
    from assist_session import main as session_main
    from assist_session.settings import Settings as SessionSettings

    consent_settings = service_settings(ConsentSettings, nats_url, database_location,
                                        consent_lease_seconds=lease_seconds)
    session_settings = service_settings(SessionSettings, nats_url, database_location)
    billing_settings = service_settings(BillingSettings, nats_url, database_location)
    async with (
        service_running(consent_main.SERVICE, consent_settings) as consent,
        service_running(session_main.SERVICE, session_settings) as session,
        service_running(billing_main.SERVICE, billing_settings) as billing,
    ):
        yield [consent, session, billing]


@pytest.fixture
def backends_factory():
    """`async with backends_factory(nats_url, database_location) as (consent, session, billing):` in-process.
    """
    return start_backends


@pytest.fixture
async def system(nats_url, database_location, gateway_settings):
    """Consent, session, billing and the gateway on one nats-server and database: yields the RunningGateway.
    """
    async with start_backends(nats_url, database_location), start_gateway(gateway_settings) as running:
        yield running
