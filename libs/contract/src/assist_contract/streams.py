"""The JetStream streams that keep the events (CONTRACT §4): each service's stream and the subjects it stores.

Every service creates them all at its start (`ServiceRuntime`, `assist_platform.messaging.ensure_streams`): any
of them may be the first to run, and an event published before its stream exists would be lost.
"""

from __future__ import annotations

from . import billing, consent, gateway, session

STREAMS: dict[str, list[str]] = {
    consent.STREAM: [consent.EVENTS],
    session.STREAM: [session.EVENTS],
    billing.STREAM: [billing.EVENTS],
    # The gateway's own events; not `gateway.>`: `gateway.cut.<replica>` are core NATS requests, never stored.
    gateway.STREAM: list(gateway.EVENT_SUBJECTS),
}
