"""Every setting is documented once: each field of every pydantic-settings class is a row of docs/settings.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from assist_billing.settings import Settings as BillingSettings
from assist_consent.settings import Settings as ConsentSettings
from assist_gateway.settings import Settings as GatewaySettings
from assist_platform.ports import PortSettings
from assist_platform.settings import PlatformSettings
from assist_session.settings import Settings as SessionSettings

from assist.devconfig import CliSettings, DevConfig

DOC = Path(__file__).resolve().parents[1] / "docs" / "settings.md"
SETTINGS = [PlatformSettings, PortSettings, GatewaySettings, SessionSettings, ConsentSettings, BillingSettings, CliSettings,
            DevConfig]


def documented_rows() -> list[str]:
    """The variables named in the first cell of each table row (`A`, `B` when one row describes two)."""
    names = []
    for line in DOC.read_text().splitlines():
        if line.startswith("| `"):
            names += re.findall(r"`([A-Z][A-Z0-9_]*)`", line.split("|")[1])
    return names


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_every_field_of_the_settings_is_a_row_of_docs_settings(settings):
    rows = set(documented_rows())
    missing = sorted(name.upper() for name in settings.model_fields if name.upper() not in rows)
    assert not missing, f"add these settings of {settings.__module__} to docs/settings.md: {missing}"


def test_each_setting_is_described_in_one_row_only():
    rows = documented_rows()
    assert sorted({name for name in rows if rows.count(name) > 1}) == []


def test_docs_settings_names_no_variable_that_nothing_reads():
    fields = {name.upper() for settings in SETTINGS for name in settings.model_fields}
    assert sorted(set(documented_rows()) - fields) == []
