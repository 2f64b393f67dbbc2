"""What `assist dev` reads from the environment (CONTRACT §1), checked once with readable errors."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class ConfigError(Exception):
    """A setting the user can fix; the message says which and why."""


@dataclass(frozen=True)
class DevConfig:
    port: int
    gateways: int
    data_dir: Path
    nats_url: str | None
    database_url: str | None
    schema_prefix: str
    # Where the gateways listen; loopback unless the operator opens them up on purpose.
    host: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DevConfig:
        env = os.environ if environ is None else environ
        port = _integer(env, "ASSIST_PORT", 8000, minimum=1)
        gateways = _integer(env, "ASSIST_GATEWAYS", 1, minimum=1)
        if port + gateways - 1 > 65535:
            raise ConfigError(f"ASSIST_PORT={port} leaves no room for {gateways} gateways below port 65535")
        return cls(
            port=port,
            gateways=gateways,
            # Absolute, so every child finds the same files whatever its working directory.
            data_dir=Path(env.get("ASSIST_DATA_DIR") or "./var").expanduser().resolve(),
            nats_url=env.get("NATS_URL") or None,
            database_url=env.get("DATABASE_URL") or None,
            schema_prefix=env.get("DATABASE_SCHEMA_PREFIX", ""),
            host=env.get("ASSIST_HOST") or "127.0.0.1",
        )

    @property
    def gateway_ports(self) -> list[int]:
        return [self.port + i for i in range(self.gateways)]

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "dev.json"

    @property
    def database_kind(self) -> str:
        return "postgresql" if self.database_url else "sqlite"


def _integer(env: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = env.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {value}")
    return value
