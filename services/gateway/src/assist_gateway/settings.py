"""The gateway's settings, read from the environment (upper-case field names)."""

from __future__ import annotations

import re
import uuid
from functools import lru_cache
from pathlib import Path

from assist_platform.settings import PlatformSettings
from pydantic import Field, field_validator, SecretStr, model_validator

from .edge import Network, parse_networks, parse_origins

# The replica id becomes a NATS subject token (`gateway.cut.<replica_id>`).
_SUBJECT_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class Settings(PlatformSettings):
    assist_port: int = 8000
    # Each process is its own replica unless told otherwise; the id names its lease holder subject.
    replica_id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    staff_token_ttl_seconds: int = 28800
    # Largest HTTP request body accepted (bytes); larger ones get 413. The API only takes small JSON and
    # forms.
    max_body_bytes: int = 65536
    # Failed staff logins allowed per client address per minute, then 429.
    login_attempts_per_minute: int = 10
    # The older name of CODE_FAILURES_PER_MINUTE (below), read when that is unset.
    code_attempts_per_minute: int = 10
    relay_max_message_bytes: int = 1048576
    # The largest file a transfer may carry, either way (issue #17): told to both sides in `attached`; an offer over
    # it is refused and no data past an offer's size is forwarded (relay/files.py).
    file_transfer_max_bytes: int = Field(default=2 * 1024 ** 3, ge=0)
    # The relay renews its consent leases this often, or more often if consent grants leases shorter than three
    # times this. The lease's length is the consent service's alone (CONSENT_LEASE_SECONDS).
    lease_renew_seconds: float = 1.0
    # A consultant's relay socket closes (4401) once its login has ended: at once on the replica where they log
    # out, within this long on the others (and when the token expires).
    staff_recheck_seconds: float = 2.0
    # How long an agent may be away (network drop) before its session ends with end_reason agent_lost.
    agent_grace_seconds: float = 30.0
    # Where `make agent` put the agent's wheel and executables, offered at /downloads/ (relative to the working
    # directory: the repository root under `make run`).
    assist_agent_dist_dir: Path = Path("dist")

    @model_validator(mode="after")
    def _refuse_bad_values(self) -> Settings:
        problems = []
        if not 0 <= self.assist_port <= 65535:
            problems.append(f"ASSIST_PORT must be a TCP port, not {self.assist_port}")
        if not _SUBJECT_TOKEN.match(self.replica_id):
            problems.append("REPLICA_ID must be 1-64 letters, digits, '_' or '-'")
        if self.staff_token_ttl_seconds < 1:
            problems.append("STAFF_TOKEN_TTL_SECONDS must be positive")
        if self.max_body_bytes < 1024:
            problems.append("MAX_BODY_BYTES must be at least 1024")
        if self.login_attempts_per_minute < 1 or self.code_attempts_per_minute < 1:
            problems.append("LOGIN_ATTEMPTS_PER_MINUTE and CODE_ATTEMPTS_PER_MINUTE must be at least 1")
        if self.relay_max_message_bytes < 1024:
            problems.append("RELAY_MAX_MESSAGE_BYTES must be at least 1024")
        if not self.lease_renew_seconds > 0:
            problems.append("LEASE_RENEW_SECONDS must be positive")
        if not self.staff_recheck_seconds > 0:
            problems.append("STAFF_RECHECK_SECONDS must be positive")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # --- The session-code throttle (issue #12): only FAILED agent attempts (a wrong, spent or malformed session
    # code, a wrong resume token) count; valid codes and resumes cost nothing. Past either budget every attempt
    # is refused (4429) before its code is looked at.
    # Failed attempts allowed per client address per minute. Unset: CODE_ATTEMPTS_PER_MINUTE, its older name.
    code_failures_per_minute: int | None = None
    # Failed attempts allowed per minute from all addresses together: a guesser spread over many addresses is
    # slowed too (and, while it lasts, everyone waits: guessing is stopped before codes are found).
    code_failures_per_minute_total: int = 100

    @property
    def code_failures_per_address(self) -> int:
        return self.code_failures_per_minute or self.code_attempts_per_minute

    @model_validator(mode="after")
    def _refuse_bad_code_throttle(self) -> Settings:
        if self.code_failures_per_minute is not None and self.code_failures_per_minute < 1:
            raise ValueError("CODE_FAILURES_PER_MINUTE must be at least 1")
        if self.code_failures_per_minute_total < 1:
            raise ValueError("CODE_FAILURES_PER_MINUTE_TOTAL must be at least 1")
        return self
    # Anonymous help requests (POST /api/v1/help-requests) allowed per client address in any sliding window of
    # HELP_REQUESTS_WINDOW_SECONDS; the next answers 429 with Retry-After. Each request holds a live session
    # code and a line in the consultants' queue. 20 in 10 minutes is more than an honest office behind one NAT
    # asks, and far less than a script. The cap on all waiting requests is the session service's
    # (SESSION_MAX_WAITING_REQUESTS).
    help_requests_per_address: int = Field(default=20, ge=1)
    help_requests_window_seconds: float = Field(default=600.0, gt=0)

    # --- the edge: who the client is, which pages may use the cookie, limits, what operators see ---------------
    # Proxies (IPs or CIDR ranges, comma-separated) whose X-Forwarded-For and X-Forwarded-Proto are believed; from
    # anyone else those headers are ignored. Empty: the client is the TCP peer (`assist dev`, no proxy).
    trusted_proxies: str = ""
    # Origins (scheme://host[:port], comma-separated) whose pages may open the consultant socket with the staff
    # cookie, besides the gateway's own (the request's scheme and Host). Behind a proxy that rewrites Host, name
    # the public origin here.
    public_origins: str = ""
    # GET /metrics needs `Authorization: Bearer <METRICS_TOKEN>`; unset, the gateway serves no /metrics.
    metrics_token: str | None = None
    # Serve /docs, /redoc and /openapi.json (off: the API's map is no business of the public).
    api_docs: bool = False

    @property
    def trusted_proxy_networks(self) -> list[Network]:
        return parse_networks(self.trusted_proxies)

    @property
    def public_origin_list(self) -> list[str]:
        return parse_origins(self.public_origins)

    @model_validator(mode="after")
    def _refuse_bad_edge_values(self) -> Settings:
        parse_networks(self.trusted_proxies)  # each raises ValueError naming the bad item
        parse_origins(self.public_origins)
        return self

    # --- recording sessions (issue #19; recording/recorder.py, docs/relay.md "Recording") ----------------------------
    # Record what each consultant sees and does (terminal, screen, events) into JetStream's object store.
    recording_enabled: bool = True
    # How long a recording of the `standard` retention class is kept after its end.
    recording_retention_days: float = Field(default=30.0, gt=0)
    # A recording's segments are written at least this often, and whenever one reaches RECORDING_SEGMENT_BYTES.
    recording_segment_seconds: float = Field(default=2.0, gt=0)
    recording_segment_bytes: int = Field(default=1048576, ge=4096)
    # What a consultant connection's recorder may hold unwritten; past it, frames are left out (a `gap` event).
    recording_queue_bytes: int = Field(default=8 * 1048576, ge=65536)
    # The share of the event loop all recorders of a replica may take (recording/budget.py): recording never slows
    # the relay; under a flood the recording leaves frames out instead.
    recording_loop_share: float = Field(default=0.1, gt=0, le=1)

    # --- recordings' playback and retention (issue #19; recording/links.py, recording/retention.py) ------------------
    # How often each replica looks for recordings past their retention (a claim per row: never two at one).
    recording_sweep_seconds: float = Field(default=3600.0, gt=0)
    # How long a customer's playback link (`/recordings/{id}?ticket=`) stays valid.
    recording_link_seconds: int = Field(default=86400, ge=60, le=90 * 86400)
    # Signs playback links; one for every replica. Unset: kept in ASSIST_DATA_DIR (recording/links.py).
    recording_link_secret: SecretStr | None = Field(default=None, min_length=32)

    @field_validator("recording_link_secret", mode="before")
    @classmethod
    def _empty_link_secret_is_unset(cls, value):
        # docker-compose passes `${RECORDING_LINK_SECRET:-}`: an empty value means "not set", not a short key.
        return None if value == "" else value


@lru_cache
def get_settings() -> Settings:
    return Settings()
