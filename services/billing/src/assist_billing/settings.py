"""The billing service's settings, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from assist_platform.settings import PlatformSettings


class Settings(PlatformSettings):
    # The largest CSV an export returns in one reply (NATS caps a message at 1 MiB by default).
    billing_export_max_bytes: int = 900_000
    # Who issues the credit notes, as printed at their top (BILLING_ISSUER: the company's name and address).
    billing_issuer: str = "Assist remote assistance platform"


@lru_cache
def get_settings() -> Settings:
    return Settings()
