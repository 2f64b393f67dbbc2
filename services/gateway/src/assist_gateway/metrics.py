"""The gateway's own metrics (the generic ones live in assist_platform.observability)."""

from __future__ import annotations

from collections import Counter

from prometheus_client import Gauge

OPEN_RELAYS = Gauge("assist_open_relay_endpoints", "Relay endpoints open on this replica, by side", ["role"])
ROLES = ("agent", "consultant", "share")


def open_relays_refresher(hub):
    """Counts the endpoints holding a lease on this replica right before a scrape (read only)."""

    async def refresh_open_relays(_runtime) -> None:
        counts = Counter(endpoint.role for endpoint in hub.leases.endpoints if not endpoint.cut)
        for role in ROLES:
            OPEN_RELAYS.labels(role=role).set(counts.get(role, 0))

    return refresh_open_relays
