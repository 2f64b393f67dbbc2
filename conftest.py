"""The whole repository's test options: read for any selection (`make test PYTEST_ARGS=services/consent` too)."""

from __future__ import annotations

import os
from pathlib import Path

from assist_platform.ports import share_of_ports
from work_order import TimingsRecorder, longest_modules_first, read_timings


def pytest_addoption(parser):
    parser.addoption(
        "--exclusive", choices=("run", "skip", "only"), default="run",
        help="tests marked exclusive (they restart what every other test uses): run them with the rest (the "
             "default, for one process), skip them (the parallel pass of `make test`), or run only them (its "
             "second pass, alone)",
    )
    parser.addoption(
        "--record-timings", metavar="PATH", type=Path, default=None,
        help="write each test module's time into PATH (tests/timings.json orders `make test`'s parallel pass)",
    )


def pytest_configure(config):
    # Each xdist worker (and every process its tests start) picks ports from a range of its own, so that a port one
    # worker picked for a system still starting is never the other's pick (tests/support/system.py).
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and "ASSIST_FREE_PORTS" not in os.environ:
        os.environ["ASSIST_FREE_PORTS"] = share_of_ports(int(worker[2:]),
                                                         int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    path = config.getoption("--record-timings")
    if path is not None:
        config.pluginmanager.register(TimingsRecorder(path), "assist-timings-recorder")


def pytest_collection_modifyitems(config, items):
    keep_exclusive_choice(config, items)
    # Each xdist worker collects and orders alike; with --no-loadscope-reorder the controller keeps that order.
    if config.getoption("dist", "no") == "loadfile":
        longest_modules_first(items, read_timings())


def keep_exclusive_choice(config, items):
    choice = config.getoption("--exclusive")
    if choice == "run":
        return
    wanted = choice == "only"
    kept, dropped = [], []
    for item in items:
        (kept if (item.get_closest_marker("exclusive") is not None) == wanted else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept
