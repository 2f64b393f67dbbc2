"""SIGKILL each service in turn during a stream of sessions; a supervisor starts it again at once. Afterwards no
socket outlived its session's end, every event is there exactly once, every started session is billed once.
"""

from __future__ import annotations

import asyncio

import pytest
from stream import assert_invariants, run_stream

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SESSIONS, CONCURRENCY = 12, 4


@pytest.mark.parametrize("victim", ["consent", "session", "billing", "gateway-1"])
async def test_a_sigkilled_service_comes_back_and_nothing_is_lost_or_billed_twice(stack_factory, victim):
    stack = stack_factory(gateways=1)

    async def kill_and_restart() -> None:
        stack.kill(victim)
        await asyncio.to_thread(stack.restart, victim)

    outcomes = await run_stream(stack.gateway_urls, sessions=SESSIONS, concurrency=CONCURRENCY,
                                fault=kill_and_restart, fault_after=SESSIONS // 3)
    assert len(outcomes) == SESSIONS
    await assert_invariants(stack.nats.url, outcomes)
    # Most sessions relayed: the fault broke only those in flight, and recovery needed no manual step.
    assert sum(o.relayed for o in outcomes) >= SESSIONS // 2, [o.disturbed for o in outcomes]
    stack.all_alive()
