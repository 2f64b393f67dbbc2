"""Consent leases of this replica's endpoints: acquired on connect, renewed in one batch, lapsing when unconfirmed.

The lease's length is the consent service's alone (`CONSENT_LEASE_SECONDS`): every grant and renewal says it, and
the keeper remembers the longest it has heard. That is how long a relay anywhere may still forward once NATS is
gone, so it is what a terminate without NATS waits out (`termination.py`). The renewals run every
`LEASE_RENEW_SECONDS`, but never less often than three times per lease.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from assist_contract import consent
from assist_contract.consent import LeaseReleaseInput
from assist_platform.problems import Problem
from assist_platform.retrying import every

from . import closecodes
from .endpoint import Endpoint

log = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(
        self, *, nc_getter: Callable, holder: str, renew_seconds: float, command_timeout: float,
        on_revoked: Callable[[Endpoint], None], on_narrowed: Callable[[Endpoint], None] = lambda _endpoint: None,
    ) -> None:
        self._nc = nc_getter
        self.holder = holder
        self._renew_seconds = renew_seconds
        self._timeout = command_timeout
        self._on_revoked = on_revoked
        self._on_narrowed = on_narrowed
        self._endpoints: dict[str, Endpoint] = {}
        self.ttl_seconds: float | None = None  # the length of the lease consent granted last
        self.longest_ttl_seconds: float | None = None  # the longest consent ever granted or announced

    def granted(self, ttl_seconds: float) -> float:
        self.ttl_seconds = ttl_seconds
        self.longest_ttl_seconds = max(ttl_seconds, self.longest_ttl_seconds or 0.0)
        return ttl_seconds

    @property
    def renew_seconds(self) -> float:
        """`LEASE_RENEW_SECONDS`, or a third of the granted lease if that is shorter: a lease is renewed at least
        twice before it runs out, whatever length consent grants."""
        if self.ttl_seconds is None:
            return self._renew_seconds
        return min(self._renew_seconds, self.ttl_seconds / 3)

    @property
    def endpoints(self) -> list[Endpoint]:
        return list(self._endpoints.values())

    async def acquire(self, endpoint: Endpoint) -> None:
        """Take a lease for `endpoint` or raise the consent service's Problem (403 when consent is not in force)."""
        sent_at = time.monotonic()
        # A mapping, not the model: a session id from a URL that breaks the input's rules is the owner's 422
        # (a Problem, like every refusal of the consent service), not a ValidationError raised here.
        lease = await consent.lease_acquire(
            self._nc(), {"session_id": endpoint.session_id, "holder": self.holder, "endpoint": endpoint.role},
            timeout=self._timeout,
        )
        endpoint.lease_id = lease.lease_id
        endpoint.scopes = tuple(lease.scopes)
        endpoint.extend(sent_at=sent_at, ttl_seconds=self.granted(lease.ttl_seconds))
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
            await consent.lease_release(self._nc(), LeaseReleaseInput(lease_ids=[endpoint.lease_id]), timeout=1.0)
        except Problem:
            pass  # it lapses on its own within one lease

    async def renew_all(self) -> None:
        """Renew every live lease in one request; with none, the same request (empty) hears the lease's length,
        so a replica that holds no lease still knows how long the others' last."""
        live = [endpoint for endpoint in self._endpoints.values() if not endpoint.cut]
        sent_at = time.monotonic()
        # A mapping, not the model: too many leases for one request is the owner's 422, as it always was.
        renewal = await consent.lease_renew(
            self._nc(), {"holder": self.holder, "lease_ids": [endpoint.lease_id for endpoint in live]},
            timeout=min(self._timeout, self.renew_seconds * 2),
        )
        ttl = self.granted(renewal.ttl_seconds)
        for endpoint in self.find(renewal.renewed):
            endpoint.extend(sent_at=sent_at, ttl_seconds=ttl)
        for lease_id, scopes in renewal.scopes.items():  # a withdrawal whose cut request this replica missed
            for endpoint in self.find([lease_id]):
                if endpoint.narrow(scopes):
                    self._on_narrowed(endpoint)
        for endpoint in self.find(renewal.revoked):
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
        """Renew every `renew_seconds`, well inside the lease. With no lease held a renewal only asks the length:
        its failure in an outage is not worth a warning a second."""
        await every(lambda: self.renew_seconds, self.renew_all, what="lease renewal", expected=(Problem,),
                    quiet=lambda: not self._endpoints)

    async def run_watchdog(self) -> None:
        """Apart from renewals, so a renewal stuck on an unreachable NATS cannot delay a lapse."""
        while True:
            self.lapse_expired()
            await asyncio.sleep(0.05)
