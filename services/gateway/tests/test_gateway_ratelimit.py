"""The sliding-window limiter: limits per key, slides, tells when to retry, and keeps its memory bounded. The
failure budget: only failures count, per key and in total, and attempts in flight count until they settle."""

from __future__ import annotations

import asyncio

import pytest
from assist_gateway.ratelimit import FailureBudget, OverBudget, SlidingWindowLimiter


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def limiter(limit: int = 3, window: float = 60.0, **kwargs) -> tuple[SlidingWindowLimiter, FakeClock]:
    clock = FakeClock()
    return SlidingWindowLimiter(limit, window, clock=clock, **kwargs), clock


def test_allows_up_to_the_limit_then_refuses() -> None:
    limits, _ = limiter(limit=3)
    assert [limits.hit("a") for _ in range(4)] == [True, True, True, False]
    assert limits.blocked("a")


def test_keys_are_counted_apart() -> None:
    limits, _ = limiter(limit=1)
    assert limits.hit("a")
    assert limits.hit("b")
    assert not limits.hit("a")


def test_the_window_slides_hit_by_hit() -> None:
    limits, clock = limiter(limit=2, window=10.0)
    limits.hit("a")
    clock.now += 4
    limits.hit("a")
    assert not limits.hit("a")
    clock.now += 6.01  # the first hit has left the window, the second has not
    assert limits.hit("a")
    assert not limits.hit("a")


def test_retry_after_counts_down_to_the_oldest_hit_leaving() -> None:
    limits, clock = limiter(limit=2, window=10.0)
    assert limits.retry_after("a") == 0.0
    limits.hit("a")
    clock.now += 3
    limits.hit("a")
    assert limits.retry_after("a") == pytest.approx(7.0)
    clock.now += 7
    assert limits.retry_after("a") == 0.0
    assert not limits.blocked("a")


def test_a_refused_hit_does_not_extend_the_wait() -> None:
    limits, clock = limiter(limit=1, window=10.0)
    limits.hit("a")
    clock.now += 5
    assert not limits.hit("a")
    assert limits.retry_after("a") == pytest.approx(5.0)


def test_idle_keys_are_forgotten() -> None:
    limits, clock = limiter(limit=5, window=10.0)
    for key in "abc":
        limits.hit(key)
    clock.now += 11
    limits.hit("d")
    assert len(limits) == 1


def test_memory_stays_bounded_under_a_flood_of_addresses() -> None:
    limits, _ = limiter(limit=5, window=60.0, max_keys=100)
    for n in range(10_000):
        limits.hit(f"10.0.{n // 256}.{n % 256}")
    assert len(limits) == 100
    assert limits.hit("10.0.39.15")  # the most recent keys are the ones kept


def test_refuses_nonsense_limits() -> None:
    with pytest.raises(ValueError):
        SlidingWindowLimiter(0, 60.0)
    with pytest.raises(ValueError):
        SlidingWindowLimiter(3, 0)


async def _attempts(budget: FailureBudget, key: str, outcomes: list[bool]) -> list[str]:
    """Run sequential attempts from `key` that fail or succeed as `outcomes` says; what happened to each."""
    answers = []
    for failed in outcomes:
        try:
            async with budget.attempt(key, wait_seconds=0.1) as attempt:
                attempt.failed = failed
            answers.append("failed" if failed else "ok")
        except OverBudget:
            answers.append("refused")
    return answers


async def test_successes_cost_nothing_and_failures_are_counted_per_key() -> None:
    budget = FailureBudget(per_key=2, total=100, clock=FakeClock())
    assert await _attempts(budget, "a", [False] * 20) == ["ok"] * 20
    assert await _attempts(budget, "a", [True, True, False]) == ["failed", "failed", "refused"]
    assert await _attempts(budget, "b", [False]) == ["ok"]


async def test_failures_of_every_key_together_are_capped() -> None:
    budget = FailureBudget(per_key=10, total=3, clock=FakeClock())
    assert await _attempts(budget, "a", [True, True]) == ["failed", "failed"]
    assert await _attempts(budget, "b", [True, False]) == ["failed", "refused"]
    assert budget.exhausted("c")


async def test_the_budget_refills_as_the_window_slides() -> None:
    clock = FakeClock()
    budget = FailureBudget(per_key=1, total=1, window_seconds=60.0, clock=clock)
    assert await _attempts(budget, "a", [True, False]) == ["failed", "refused"]
    clock.now += 60
    assert await _attempts(budget, "a", [False]) == ["ok"]


async def test_attempts_in_flight_count_until_they_settle_and_later_ones_wait() -> None:
    budget = FailureBudget(per_key=2, total=100, clock=FakeClock())
    release = asyncio.Event()
    entered = []

    async def slow_attempt(failed: bool) -> str:
        try:
            async with budget.attempt("a", wait_seconds=5.0) as attempt:
                entered.append(failed)
                await release.wait()
                attempt.failed = failed
            return "done"
        except OverBudget:
            return "refused"

    # Two failing attempts fill the budget while in flight: a burst of guesses cannot all pass the check at once.
    tasks = [asyncio.create_task(slow_attempt(True)) for _ in range(2)]
    late = asyncio.create_task(slow_attempt(False))
    while len(entered) < 2:
        await asyncio.sleep(0)
    assert len(entered) == 2 and not late.done()
    release.set()
    assert await asyncio.gather(*tasks) == ["done", "done"]
    # Once they failed, the waiting attempt is refused without starting.
    assert await late == "refused" and len(entered) == 2


async def test_an_honest_burst_waits_instead_of_being_refused() -> None:
    budget = FailureBudget(per_key=2, total=100, clock=FakeClock())

    async def valid_attempt() -> str:
        async with budget.attempt("office", wait_seconds=5.0):
            await asyncio.sleep(0.01)
        return "ok"

    assert await asyncio.gather(*(valid_attempt() for _ in range(12))) == ["ok"] * 12


async def test_a_budget_over_an_existing_limiter_counts_its_failures_there() -> None:
    clock = FakeClock()
    logins = SlidingWindowLimiter(2, 60.0, clock=clock)
    budget = FailureBudget(failures=logins, total=None)
    assert await _attempts(budget, "a", [False, True, True, False]) == ["ok", "failed", "failed", "refused"]
    assert logins.blocked("a") and budget.retry_after("a") == 60.0
    with pytest.raises(ValueError):
        FailureBudget(total=None)
