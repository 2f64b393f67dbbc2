"""Fixtures of the consent service tests: the service running over a real nats-server and a real database."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from assist_consent.main import SERVICE
from assist_consent.settings import Settings
from assist_platform.testing import eventually as wait_until
from assist_platform.testing import service_running, service_settings

# The tests import their helpers (`consent_testkit`) from this folder.
sys.path.insert(0, str(Path(__file__).parent))


def make_settings(nats_url: str, database_location, **overrides) -> Settings:
    defaults = dict(consent_lease_seconds=5.0, consent_cut_margin_seconds=0.1, consent_expiry_check_seconds=0.05)
    return service_settings(Settings, nats_url, database_location, **{**defaults, **overrides})


@pytest.fixture
def consent_overrides() -> dict:
    """Settings a test module or test changes (override this fixture, or parametrize it indirectly)."""
    return {}


@pytest.fixture
async def consent_runtime(nats_url, database_location, consent_overrides):
    async with service_running(SERVICE, make_settings(nats_url, database_location, **consent_overrides)) as runtime:
        yield runtime


@pytest.fixture
def eventually():
    return wait_until
