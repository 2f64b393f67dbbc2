"""The platform's one retry policy and its schedule: what is retried, when it gives up, what survives."""

from __future__ import annotations

import asyncio

import pytest
from assist_platform.problems import Problem
from assist_platform.retrying import every, on_conflict, retrying, stop_when, unavailable
from sqlalchemy.exc import IntegrityError


def conflict() -> IntegrityError:
    return IntegrityError("INSERT", {}, Exception("unique"))


async def run(policy, operation) -> object:
    async for attempt in policy:
        with attempt:
            return await operation()
    raise AssertionError("unreachable")


class Failing:
    """Fails with `errors` in turn, then answers."""

    def __init__(self, *errors: BaseException) -> None:
        self.errors, self.calls = list(errors), 0

    async def __call__(self) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


async def test_a_503_is_asked_again_until_it_answers():
    operation = Failing(Problem(503, "Unavailable"), Problem(503, "Unavailable"))
    assert await run(retrying(what="test", retry_on=unavailable, first=0.001), operation) == "done"
    assert operation.calls == 3


async def test_any_other_problem_is_raised_at_once():
    operation = Failing(Problem(404, "Not found"))
    with pytest.raises(Problem) as raised:
        await run(retrying(what="test", retry_on=unavailable, first=0.001), operation)
    assert (raised.value.status, operation.calls) == (404, 1)


async def test_the_last_failure_is_raised_when_the_attempts_run_out():
    operation = Failing(*(Problem(503, f"try {n}") for n in range(5)))
    with pytest.raises(Problem, match="try 2"):
        await run(retrying(what="test", retry_on=unavailable, attempts=3, first=0.001), operation)
    assert operation.calls == 3


async def test_a_stop_condition_ends_the_retries():
    operation = Failing(*(ConnectionError() for _ in range(10)))
    with pytest.raises(ConnectionError):
        await run(retrying(what="test", first=0.001, stop=stop_when(lambda: operation.calls >= 2)), operation)
    assert operation.calls == 2


async def test_the_waits_double_up_to_the_most():
    waits = []
    policy = retrying(what="test", attempts=6, first=0.1, most=0.4)
    policy.sleep = lambda seconds: waits.append(seconds) or asyncio.sleep(0)
    with pytest.raises(ConnectionError):
        await run(policy, Failing(*(ConnectionError() for _ in range(6))))
    assert [round(wait, 1) for wait in waits] == [0.1, 0.2, 0.4, 0.4, 0.4]
    assert all(wait < base + 0.01 + 1e-9 for wait, base in zip(waits, [0.1, 0.2, 0.4, 0.4, 0.4], strict=True))


async def test_a_lost_unique_race_runs_again_only_while_asked_to():
    operation = Failing(conflict())
    assert await run(on_conflict(attempts=2), operation) == "done"
    refused = Failing(conflict())
    with pytest.raises(IntegrityError):
        await run(on_conflict(attempts=2, when=lambda: False), refused)
    assert refused.calls == 1


async def test_a_schedule_survives_its_failed_rounds():
    rounds = []

    async def job() -> None:
        rounds.append(len(rounds))
        if len(rounds) % 2:
            raise RuntimeError("the database is away")

    task = asyncio.create_task(every(0.001, job, what="test"))
    try:
        async with asyncio.timeout(10):
            while len(rounds) < 4:
                await asyncio.sleep(0.001)
    finally:
        task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
