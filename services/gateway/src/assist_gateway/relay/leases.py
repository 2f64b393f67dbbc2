"""Consent leases of this replica's endpoints: acquired on connect, renewed in one batch, lapsing when unconfirmed."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from assist_platform.commands import call_command
from assist_platform.problems import Problem
from assist_platform.retrying import every

from . import closecodes
from .endpoint import Endpoint

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(
        self, *, nc_getter: Callable, holder: str, renew_seconds: float, command_timeout: float,
        on_revoked: Callable[[Endpoint], None],
    ) -> None:
        self._nc = nc_getter
        self.holder = holder
        self._renew_seconds = renew_seconds
        self._timeout = command_timeout
        self._on_revoked = on_revoked
        self._endpoints: dict[str, Endpoint] = {}
        self.ttl_seconds: float | None = None

    @property
    def endpoints(self) -> list[Endpoint]:
        return list(self._endpoints.values())

    async def acquire(self, endpoint: Endpoint) -> None:
        """Take a lease for `endpoint` or raise the consent service's Problem (403 when consent is not in force)."""
        sent_at = time.monotonic()
        result = await call_command(
            self._nc(), "cmd.consent.lease.acquire",
            {"session_id": endpoint.session_id, "holder": self.holder, "endpoint": endpoint.role},
            timeout=self._timeout,
        )
        endpoint.lease_id = result["lease_id"]
        endpoint.scopes = tuple(result.get("scopes") or ())
        self.ttl_seconds = float(result["ttl_seconds"])
        endpoint.extend(sent_at=sent_at, ttl_seconds=self.ttl_seconds)
        self._endpoints[endpoint.lease_id] = endpoint

    def forget(self, endpoint: Endpoint) -> None:
        self._endpoints.pop(endpoint.lease_id, None)

    def find(self, lease_ids: list[str]) -> list[Endpoint]:
        return [self._endpoints[lease_id] for lease_id in lease_ids if lease_id in self._endpoints]

    async def release(self, endpoint: Endpoint) -> None:
        self.forget(endpoint)
        if not endpoint.lease_id:
            return
        try:
            await call_command(self._nc(), "cmd.consent.lease.release", {"lease_ids": [endpoint.lease_id]}, timeout=1.0)
        except Problem:
            pass  # it lapses on its own within one lease

    async def renew_all(self) -> None:
        live = [endpoint for endpoint in self._endpoints.values() if not endpoint.cut]
        if not live:
            return
        sent_at = time.monotonic()
        result = await call_command(
            self._nc(), "cmd.consent.lease.renew",
            {"holder": self.holder, "lease_ids": [endpoint.lease_id for endpoint in live]},
            timeout=min(self._timeout, self._renew_seconds * 2),
        )
        ttl = float(result["ttl_seconds"])
        for endpoint in self.find(result.get("renewed", [])):
            endpoint.extend(sent_at=sent_at, ttl_seconds=ttl)
        for endpoint in self.find(result.get("revoked", [])):
            self._on_revoked(endpoint)

    def lapse_expired(self) -> None:
        """Fail closed: an endpoint whose lease could not be confirmed in time is closed."""
        now = time.monotonic()
        for endpoint in list(self._endpoints.values()):
            if not endpoint.cut and endpoint.deadline <= now:
                log.warning("lease %s of session %s lapsed: closing the %s", endpoint.lease_id, endpoint.session_id,
                            endpoint.role)
                endpoint.cut_now(code=closecodes.LEASE_LAPSED, reason="consent could not be confirmed")

    async def run_renewals(self) -> None:
        """Renew every `renew_seconds`, well inside the lease (5 s by default)."""
        await every(self._renew_seconds, self.renew_all, what="lease renewal", expected=(Problem,))

    async def run_watchdog(self) -> None:
        """Apart from renewals, so a renewal stuck on an unreachable NATS cannot delay a lapse."""
        while True:
            self.lapse_expired()
            await asyncio.sleep(0.05)
