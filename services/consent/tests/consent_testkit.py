"""Helpers of the consent tests: a grant, a lease, and a test acting as a lease holder (a gateway replica)."""

from __future__ import annotations

import asyncio
import json
import time

from assist_consent.terms import terms_catalog
from assist_contract import consent as contract

HOLDER = "gateway.cut.test-a"


async def grant(call, session_id: str = "s-1", scopes: tuple[str, ...] = ("view", "control")) -> dict:
    return await call(
        contract.grant.subject,
        {
            "session_id": session_id,
            "customer": {"name": "Ivan Petrov", "email": "ivan@example.com"},
            "terms_version": terms_catalog().current_version,
            "scopes": list(scopes),
        },
    )


async def acquire(call, session_id: str = "s-1", holder: str = HOLDER, endpoint: str = "agent") -> dict:
    return await call(
        contract.lease_acquire.subject, {"session_id": session_id, "holder": holder, "endpoint": endpoint}
    )


class Holder:
    """A test acting as a gateway replica: answers cut requests on its subject after `delay` seconds."""

    def __init__(self, delay: float = 0.0, answer: bool = True) -> None:
        self.delay = delay
        self.answer = answer
        self.requests: list[dict] = []
        self.confirmed_at: float | None = None

    async def subscribe(self, nc, subject: str = HOLDER):
        async def on_cut(msg) -> None:
            self.requests.append(json.loads(msg.data))
            if not self.answer:
                return
            await asyncio.sleep(self.delay)  # a holder that takes its time to close its sockets
            self.confirmed_at = time.monotonic()
            await msg.respond(json.dumps({"cut": self.requests[-1]["lease_ids"]}).encode())

        return await nc.subscribe(subject, cb=on_cut)


async def both_ends_leased_by_a_slow_holder(call, nc) -> tuple[Holder, dict, dict]:
    """A granted consent whose agent and consultant leases are held by one holder that takes 0.3 s to cut:
    (the holder, the agent's lease, the consultant's lease)."""
    holder = Holder(delay=0.3)
    await holder.subscribe(nc)
    await grant(call)
    return holder, await acquire(call, endpoint="agent"), await acquire(call, endpoint="consultant")
