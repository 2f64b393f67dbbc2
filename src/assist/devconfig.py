"""What the `assist` command reads from the environment (CONTRACT §1), through pydantic-settings, with readable
errors: `CliSettings` for every subcommand, `DevConfig` for `assist dev`."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# pydantic's error types, said as a person would.
_READABLE = {"int_parsing": "must be a whole number", "float_parsing": "must be a number",
             "bool_parsing": "must be 0 or 1", "greater_than_equal": "must be at least {ge}",
             "less_than_equal": "must be at most {le}"}


class ConfigError(Exception):
    """A setting the user can fix; the message says which and why."""


class CliSettings(BaseSettings):
    """Read by every `assist` subcommand (a service's own settings are its `Settings`, read by the service)."""

    # An empty variable counts as unset, as the shell's `ASSIST_PORT= assist dev` means.
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", env_ignore_empty=True)

    assist_port: int = 8000
    nats_url: str | None = None
    log_level: str = "INFO"

    @field_validator("assist_port")
    @classmethod
    def _a_port(cls, port: int) -> int:
        if not 0 <= port <= 65535:  # 0: any free port (a test's gateway)
            raise ValueError("must be a TCP port (0-65535)")
        return port

    @classmethod
    def load(cls):
        """The settings, or a ConfigError naming each bad variable."""
        try:
            return cls()
        except ValidationError as error:
            raise ConfigError("; ".join(_readable(item) for item in error.errors())) from None


class DevConfig(CliSettings):
    """`assist dev`: where the system runs and keeps its files."""

    assist_gateways: int = 1
    assist_data_dir: Path = Path("./var")
    database_url: str | None = None
    database_schema_prefix: str = ""
    # Where the gateways listen; loopback unless the operator opens them up on purpose.
    assist_host: str = "127.0.0.1"
    # How long `assist dev` waits for every service's /readyz.
    assist_ready_timeout: float = 60.0
    # 1: each service writes its spans as JSON lines to <ASSIST_DATA_DIR>/spans/<name>.jsonl.
    assist_trace_spans: bool = False

    @field_validator("assist_gateways")
    @classmethod
    def _at_least_one(cls, gateways: int) -> int:
        if gateways < 1:
            raise ValueError("must be at least 1")
        return gateways

    @field_validator("assist_data_dir")
    @classmethod
    def _absolute(cls, data_dir: Path) -> Path:
        # Absolute, so every child finds the same files whatever its working directory.
        return data_dir.expanduser().resolve()

    @model_validator(mode="after")
    def _room_for_the_gateways(self) -> DevConfig:
        if self.assist_port < 1:
            raise ValueError(f"ASSIST_PORT must be at least 1, not {self.assist_port}")
        if self.assist_port + self.assist_gateways - 1 > 65535:
            raise ValueError(f"ASSIST_PORT={self.assist_port} leaves no room for {self.assist_gateways} gateways "
                             "below port 65535")
        return self

    @property
    def port(self) -> int:
        return self.assist_port

    @property
    def data_dir(self) -> Path:
        return self.assist_data_dir

    @property
    def host(self) -> str:
        return self.assist_host

    @property
    def gateway_ports(self) -> list[int]:
        return [self.port + i for i in range(self.assist_gateways)]

    @property
    def logs_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def state_file(self) -> Path:
        return self.data_dir / "dev.json"

    @property
    def database_kind(self) -> str:
        return "postgresql" if self.database_url else "sqlite"


def _readable(item: dict) -> str:
    name = "_".join(str(part) for part in item.get("loc", ())).upper()
    message = _READABLE.get(item["type"], "").format(**item.get("ctx", {})) or item["msg"].removeprefix(
        "Value error, ")
    given = item.get("input")
    if name and not isinstance(given, dict):
        return f"{name} {message}, not {given!r}"
    return message
