"""Cutting a session's live leases: ask every holder, wait for its answer or for its leases to run out.

A holder's reply confirms every lease it was asked about. A holder that does not answer (replica gone, NATS
partitioned) has stopped by itself once its lease expired, because it forwards nothing past its own lease; so
waiting until the expiry plus a margin is as good as a confirmation.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from assist_contract.gateway import CutRequest
from assist_platform.envelope import utcnow
from nats.aio.client import Client as NATS

from .domain import cut_wait_seconds
from .models import Lease

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HolderCut:
    """The leases one holder is asked to cut, and how long it may take to answer."""

    holder: str
    lease_ids: tuple[str, ...]
    latest_expiry: datetime


def cuts_by_holder(leases: list[Lease]) -> list[HolderCut]:
    """One cut request per holder, however many of the session's leases it holds."""
    grouped: dict[str, list[Lease]] = defaultdict(list)
    for lease in leases:
        grouped[lease.holder].append(lease)
    return [
        HolderCut(
            holder=holder,
            lease_ids=tuple(sorted(lease.lease_id for lease in held)),
            latest_expiry=max(lease.expires_at for lease in held),
        )
        for holder, held in grouped.items()
    ]


async def _cut_one(nc: NATS, *, session_id: str, reason: str | None, cut: HolderCut, margin_seconds: float,
                   scopes: list[str] | None, scope_request: dict | None = None, wait_for_lapse: bool = True) -> str:
    """'confirmed' when the holder answered, 'expired' when its leases ran out first ('unconfirmed' when the
    caller does not wait for them: a step-up notice, which cuts nothing)."""
    wait = cut_wait_seconds(lease_expires_at=cut.latest_expiry, now=utcnow(), margin_seconds=margin_seconds)
    body = CutRequest(session_id=session_id, lease_ids=list(cut.lease_ids), reason=reason,
                      scopes=scopes, scope_request=scope_request).model_dump_json(exclude_none=True)
    try:
        if nc is None:  # not connected yet: nobody can be asked, only the clock can cut
            raise ConnectionError("no NATS connection")
        await nc.request(cut.holder, body.encode(), timeout=wait)
        return "confirmed"
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # no responders, timeout, disconnected: the lease's expiry is the cut
        log.warning(
            "cut of %s at %s not confirmed (%s); waiting for its leases to expire",
            session_id,
            cut.holder,
            type(exc).__name__,
        )
    if not wait_for_lapse:
        return "unconfirmed"
    remaining = cut_wait_seconds(
        lease_expires_at=cut.latest_expiry, now=utcnow(), margin_seconds=margin_seconds
    )
    if remaining > 0:
        await asyncio.sleep(remaining)
    return "expired"


async def cut_leases(
    nc: NATS | None, *, session_id: str, reason: str | None, leases: list[Lease], margin_seconds: float,
    scopes: list[str] | None = None, scope_request: dict | None = None, wait_for_lapse: bool = True,
) -> dict[str, str]:
    """Return once every lease is cut (with `scopes`: narrowed to them), {holder: 'confirmed' | 'expired'}. All
    holders are asked at once. A holder that does not answer has stopped forwarding altogether once its lease ran
    out, which covers a narrowing too."""
    cuts = cuts_by_holder(leases)
    outcomes = await asyncio.gather(
        *(
            _cut_one(nc, session_id=session_id, reason=reason, cut=cut, margin_seconds=margin_seconds,
                     scopes=scopes, scope_request=scope_request, wait_for_lapse=wait_for_lapse)
            for cut in cuts
        )
    )
    return {cut.holder: outcome for cut, outcome in zip(cuts, outcomes, strict=True)}
