"""The consent service's settings, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from assist_platform.settings import PlatformSettings
from pydantic import Field


class Settings(PlatformSettings):
    # The longest a consent stays in force; the expiry task revokes it (reason `expired`) after that.
    consent_max_seconds: float = Field(default=14400.0, gt=0)
    # How long a lease lasts without renewal: the longest a cut-off relay can go on before it stops by itself.
    consent_lease_seconds: float = Field(default=5.0, gt=0)
    # Added to a lease's expiry before a revoke counts an unanswered lease as cut (clock skew, scheduling).
    consent_cut_margin_seconds: float = Field(default=0.25, ge=0)
    # How often the expiry task looks for consents past their maximum duration.
    consent_expiry_check_seconds: float = Field(default=1.0, gt=0)
    # Leases that ended this long ago are deleted by the expiry task (they are only needed while live).
    consent_lease_retention_seconds: float = Field(default=3600.0, gt=0)
    # Named in every consent receipt as the party that recorded the consent.
    consent_issuer: str = "Assist remote assistance platform"


@lru_cache
def get_settings() -> Settings:
    return Settings()
