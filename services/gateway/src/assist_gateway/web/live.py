"""Live pages: the gateway listens to `session.*` events on core NATS and pushes fresh snapshots as SSE.

A snapshot (the whole queue, the whole list of running sessions) rather than the events themselves: a browser
that missed events while reconnecting is right again with the next message, and the pages need no merging.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from assist_contract.session import CHAT_POSTED
from assist_contract.session import EVENTS as SESSION_EVENTS
from assist_platform.problems import Problem
from assist_platform.runtime import ServiceRuntime

from ..commands import SESSION_LIST, SESSION_QUEUE, call
from ..domain import CONSULTANT, queue_card, session_card

log = logging.getLogger(__name__)
# Also refresh this often without events: a safety net for events lost while NATS reconnects, and it keeps
# proxies from closing an idle stream.
REFRESH_SECONDS = 15.0


class SessionChanges:
    """Wakes every open event stream when any session event passes."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    async def on_connected(self, runtime: ServiceRuntime) -> None:
        await runtime.nc.subscribe(SESSION_EVENTS, cb=self._on_event)

    async def _on_event(self, msg) -> None:
        if msg.subject == CHAT_POSTED.subject:
            return  # a chat message changes no card: the relay and the session pages take it
        for waiter in self._waiters:
            waiter.set()

    async def stream(self, snapshot, *, is_disconnected) -> AsyncIterator[str]:
        """SSE messages: a snapshot at once, then one after each change (several changes coalesce)."""
        changed = asyncio.Event()
        self._waiters.add(changed)
        try:
            while not await is_disconnected():
                changed.clear()
                yield await snapshot()
                try:
                    await asyncio.wait_for(changed.wait(), REFRESH_SECONDS)
                except TimeoutError:
                    pass
        finally:
            self._waiters.discard(changed)


def sse(event: str, data: dict) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


async def snapshot_for(runtime: ServiceRuntime, role: str) -> str:
    """The queue for consultants: cards with the customer's contact (name, company, email, phone, service type,
    times), so a consultant can call back; every running session for supervisors and admins as cards without
    the contact. Never the description, the consent id or a token (domain.py `queue_card`, `session_card`)."""
    try:
        if role == CONSULTANT:
            found = await call(runtime, SESSION_QUEUE, {})
            return sse("queue", {"sessions": [queue_card(view) for view in found.sessions]})
        running = []
        for status in ("active", "assigned"):
            found = await call(runtime, SESSION_LIST, {"status": status})
            running.extend(session_card(view) for view in found.sessions)
        return sse("sessions", {"sessions": running})
    except Problem as problem:
        # Shown as "offline" by the page; the stream stays open and the next change tries again.
        log.warning("live snapshot failed: %s", problem.detail or problem.title)
        return sse("unavailable", {"detail": problem.detail or problem.title})
