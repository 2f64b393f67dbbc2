"""The gateway refuses to start with settings that cannot work."""

from __future__ import annotations

import pytest
from assist_consent.settings import Settings as ConsentSettings
from assist_gateway.settings import Settings
from assist_gateway.relay.leases import LeaseKeeper
from pydantic import ValidationError


def test_defaults_are_sane_and_each_process_has_its_own_replica_id() -> None:
    settings = Settings()
    assert settings.assist_port == 8000
    assert settings.max_body_bytes == 65536
    # The lease is consent's (CONSENT_LEASE_SECONDS): renewals fit several times into its default.
    assert settings.lease_renew_seconds * 3 <= ConsentSettings().consent_lease_seconds
    assert not hasattr(settings, "lease_seconds")
    assert len(settings.replica_id) == 32
    assert Settings().replica_id != settings.replica_id


@pytest.mark.parametrize(
    "bad",
    [
        {"assist_port": 70000},
        {"replica_id": "a.b"},
        {"replica_id": ""},
        {"staff_token_ttl_seconds": 0},
        {"max_body_bytes": 10},
        {"login_attempts_per_minute": 0},
        {"code_attempts_per_minute": 0},
        {"code_failures_per_minute": 0},
        {"code_failures_per_minute_total": 0},
        {"relay_max_message_bytes": 0},
        {"lease_renew_seconds": -1.0},
        {"lease_renew_seconds": 0},
    ],
)
def test_obviously_bad_values_are_refused(bad: dict) -> None:
    with pytest.raises(ValidationError):
        Settings(**bad)


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSIST_PORT", "8123")
    monkeypatch.setenv("REPLICA_ID", "gw-2")
    settings = Settings()
    assert (settings.assist_port, settings.replica_id) == (8123, "gw-2")


def test_the_code_failure_budget_falls_back_to_its_older_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CODE_ATTEMPTS_PER_MINUTE", "7")
    assert Settings().code_failures_per_address == 7
    monkeypatch.setenv("CODE_FAILURES_PER_MINUTE", "4")
    monkeypatch.setenv("CODE_FAILURES_PER_MINUTE_TOTAL", "40")
    settings = Settings()
    assert (settings.code_failures_per_address, settings.code_failures_per_minute_total) == (4, 40)


def test_the_relay_renews_at_least_three_times_per_granted_lease_and_waits_out_the_longest() -> None:
    keeper = LeaseKeeper(nc_getter=lambda: None, holder="gateway.cut.r1", renew_seconds=1.0, command_timeout=1.0,
                         on_revoked=lambda endpoint: None)
    assert (keeper.renew_seconds, keeper.longest_ttl_seconds) == (1.0, None)  # nothing granted yet
    keeper.granted(12.0)
    assert (keeper.renew_seconds, keeper.longest_ttl_seconds) == (1.0, 12.0)
    keeper.granted(1.5)  # consent now grants shorter leases: renew more often, still wait out the longest
    assert (keeper.renew_seconds, keeper.longest_ttl_seconds) == (0.5, 12.0)
