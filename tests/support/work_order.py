"""The order in which `make test`'s parallel pass hands the suite's modules to its workers: the longest first.

pytest-xdist's `loadfile` gives a worker one test module at a time (so a module-scoped system starts once, on one
worker). Left to itself, xdist orders the modules by their number of tests, so the few long fault and first-frames
tests came last, on one worker, while the other had nothing left to do. Handed out longest first (the LPT rule), the
two workers end within about one short module of each other. How long a module takes comes from `tests/timings.json`,
written by a run with `--record-timings`; a stale or missing figure costs only balance, never a result.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest

TIMINGS = Path(__file__).resolve().parents[1] / "timings.json"
# A module tests/timings.json does not know yet: most of the suite's tests take well under a second.
SECONDS_PER_UNKNOWN_TEST = 0.5


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def read_timings(path: Path = TIMINGS) -> dict[str, float]:
    try:
        return {str(module): float(seconds) for module, seconds in json.loads(path.read_text()).items()}
    except (OSError, ValueError, AttributeError):
        return {}


def longest_modules_first(items: list[pytest.Item], timings: dict[str, float]) -> None:
    """Reorder `items` module by module, the longest module first; a module's tests keep their order."""
    tests_in_module = Counter(module_of(item.nodeid) for item in items)
    first_seen = {module: index for index, module in enumerate(tests_in_module)}

    def cost(module: str) -> float:
        return timings.get(module, SECONDS_PER_UNKNOWN_TEST * tests_in_module[module])

    rank = {module: (-cost(module), first_seen[module]) for module in tests_in_module}
    items.sort(key=lambda item: rank[module_of(item.nodeid)])  # stable: a module's tests keep their order


class TimingsRecorder:
    """Sums each module's setup, call and teardown time as the controller hears of it, and merges the sums into the
    timings file at the end (modules this run did not touch keep their figures; deleted modules are dropped)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.seconds: dict[str, float] = defaultdict(float)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.seconds[module_of(report.nodeid)] += report.duration

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if hasattr(session.config, "workerinput") or not self.seconds:
            return  # a worker's reports reach the controller, which writes the file once
        root = session.config.rootpath
        merged = {module: seconds for module, seconds in read_timings(self.path).items()
                  if (root / module).exists()}
        merged.update(self.seconds)
        self.path.write_text(json.dumps({module: round(seconds, 1) for module, seconds in sorted(merged.items())},
                                        indent=1) + "\n")
