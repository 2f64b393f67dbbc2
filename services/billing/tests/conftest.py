"""Fixtures of the billing tests: a real nats-server, a real database, the service in-process."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from assist_billing.main import SERVICE
from assist_billing.settings import Settings
from assist_contract.streams import STREAMS
from assist_platform.messaging import connect_nats, ensure_streams
from assist_platform.testing import service_running, service_settings

# The tests import their helpers (`billing_testkit`) from this folder.
sys.path.insert(0, str(Path(__file__).parent))

from billing_testkit import SessionBus  # noqa: E402


@pytest.fixture
def billing_settings(nats_url, database_location) -> Settings:
    return service_settings(Settings, nats_url, database_location)


@pytest.fixture
async def bus(nats_url):
    nc = await connect_nats(nats_url, name="billing-test", attempts=5)
    js = nc.jetstream()
    await ensure_streams(js, STREAMS)
    yield SessionBus(nc, js)
    await nc.drain()


@pytest.fixture
async def billing(billing_settings, bus):
    """The billing service in this process, ready to consume and to answer commands."""
    async with service_running(SERVICE, billing_settings) as runtime:
        yield runtime
