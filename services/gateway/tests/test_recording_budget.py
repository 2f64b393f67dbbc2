"""The share of the event loop a replica's recorders may take (issue #19, recording/budget.py), on a clock of the
test's own."""

from __future__ import annotations

import asyncio

import pytest

from assist_gateway.recording.budget import LoopBudget, write_cost


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_work_may_start_at_once_while_the_burst_lasts():
    clock = Clock()
    budget = LoopBudget(0.1, burst=0.05, clock=clock)
    assert budget.wait_seconds() == 0
    budget.spend(0.04)
    assert budget.wait_seconds() == 0  # 10 ms of the burst left


def test_work_past_the_budget_waits_until_the_share_has_paid_for_it():
    clock = Clock()
    budget = LoopBudget(0.1, burst=0.05, clock=clock)
    budget.spend(0.25)  # a slow write: 200 ms over
    assert budget.wait_seconds() == pytest.approx(2.0)  # at 10 %, 200 ms of work is paid in 2 s
    clock.now += 1.0
    assert budget.wait_seconds() == pytest.approx(1.0)
    clock.now += 1.01
    assert budget.wait_seconds() == 0


def test_an_idle_budget_saves_no_more_than_its_burst():
    clock = Clock()
    budget = LoopBudget(0.5, burst=0.1, clock=clock)
    clock.now += 3600
    budget.spend(0.1)
    budget.spend(0.05)
    assert budget.wait_seconds() == pytest.approx(0.1)


def test_over_time_the_work_done_is_the_share_of_the_time_passed():
    clock = Clock()
    budget = LoopBudget(0.1, burst=0.01, clock=clock)
    worked = 0.0
    for _ in range(10_000):  # a recorder that always has work: slices of 2 ms whenever it may
        clock.now += budget.wait_seconds()
        budget.spend(0.002)
        clock.now += 0.002
        worked += 0.002
    assert worked / (clock.now - 100.0) == pytest.approx(0.1, rel=0.02)


async def test_a_lifted_budget_lets_every_slice_start_at_once_even_one_already_waiting():
    budget = LoopBudget(0.001, burst=0.001)
    budget.spend(10.0)  # a wait of hours
    waiting = asyncio.create_task(budget.turn())
    await asyncio.sleep(0)
    assert not waiting.done()
    budget.lift()
    await asyncio.wait_for(waiting, timeout=5)
    assert budget.wait_seconds() == 0


@pytest.mark.parametrize("share", [0, -0.1, 1.5])
def test_a_share_is_above_nothing_and_at_most_all(share):
    with pytest.raises(ValueError):
        LoopBudget(share)


async def test_a_slice_pays_the_time_it_took():
    clock = Clock()
    budget = LoopBudget(0.5, burst=10.0, clock=clock)
    async with budget.slice():
        clock.now += 2.0
    assert budget.tokens == pytest.approx(10.0 - 2.0)  # the refill while it ran finds the bucket full


def test_a_write_is_paid_for_its_bytes_and_objects():
    assert write_cost(size=0, objects=0) == 0
    assert write_cost(size=1_000_000, objects=3) == pytest.approx(0.018 + 3 * 0.0045 + 0.0135)
    assert write_cost(size=1_000_000, objects=1) < write_cost(size=2_000_000, objects=1)
