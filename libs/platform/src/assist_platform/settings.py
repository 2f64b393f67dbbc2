"""Settings every service reads from the environment (pydantic-settings)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class PlatformSettings(BaseSettings):
    """Base class of each service's `Settings`; field names map to upper-case environment variables."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    # This service's own NATS user (its subject permissions: assist_contract.natsauth); unset: no credentials,
    # or those in NATS_URL (`nats://user:password@host:port`).
    nats_user: str | None = None
    nats_password: str | None = None
    database_url: str | None = None
    assist_data_dir: Path = Path("./var")
    # Prepended to each service's schema (PostgreSQL) or file name (SQLite), so several systems (tests) share a server.
    database_schema_prefix: str = ""
    # How long a command request waits for its answer before the caller gives up.
    command_timeout_seconds: float = 5.0
    # How many replicas each stream keeps (3 in a NATS cluster in production).
    stream_replicas: int = 1
    log_level: str = "INFO"
    # How long the HTTP server keeps an idle keep-alive connection. Longer than the idle timeout of the proxies and
    # load balancers in front (commonly 60 s), so that they, not the server, close an idle connection: when both
    # sides time out alike, a request sent on a connection at the moment the server closes it is lost ("server
    # disconnected without sending a response"). uvicorn's default is 5 s, which is also httpx's client default.
    http_keep_alive_seconds: float = Field(default=75.0, gt=0)
    # Largest request line plus headers (bytes): the HTTP server stops reading there and answers 431
    # (src/assist/httpserver.py); the gateway's middleware holds requests that reach it to the same bound.
    max_header_bytes: int = Field(default=16384, ge=1024, le=1048576)
    # Span exporters (comma separated: otlp, console, none); unset: otlp when an OTLP endpoint is set, else none.
    # The OTLP exporter reads the standard OTEL_EXPORTER_OTLP_* variables itself.
    otel_traces_exporter: str | None = None
    otel_exporter_otlp_endpoint: str | None = None
    otel_exporter_otlp_traces_endpoint: str | None = None
    # Also write every finished span as a JSON line to this file (`assist dev` sets it with ASSIST_TRACE_SPANS=1).
    assist_spans_file: str | None = None

    def database_location(self, service: str) -> tuple[str, str]:
        """(sync URL, schema) of `service`'s own database."""
        from .db import resolve_database_url

        name = f"{self.database_schema_prefix}{service}"
        return resolve_database_url(database_url=self.database_url, data_dir=self.assist_data_dir, service=name), name
