"""The session service's settings, read from the environment."""

from __future__ import annotations

from functools import lru_cache

from assist_platform.settings import PlatformSettings
from pydantic import Field


class Settings(PlatformSettings):
    # Comma separated, so the variable reads naturally: SESSION_SERVICE_TYPES=consultation,system_help
    session_service_types: str = "consultation,system_help,urgent_help"
    # An unused session code stops working after this long.
    session_code_ttl_seconds: float = 900.0
    # A request nobody started (still waiting or assigned) is ended as expired after this long.
    session_request_ttl_seconds: float = 1800.0
    # How often the background task looks for expired requests.
    session_expiry_interval_seconds: float = 5.0
    # At most this many requests wait unclaimed at once; the next one is refused with 429 and Retry-After
    # until a consultant takes one or one expires (a cap on floods of anonymous requests, see domain.admit_request).
    session_max_waiting_requests: int = Field(default=200, ge=1)

    @property
    def service_types(self) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.session_service_types.split(",") if part.strip())


@lru_cache
def get_settings() -> Settings:
    return Settings()
