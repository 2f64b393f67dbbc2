"""The sliding-window limiter: limits per key, slides, tells when to retry, and keeps its memory bounded."""

from __future__ import annotations

import pytest
from assist_gateway.ratelimit import SlidingWindowLimiter


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
